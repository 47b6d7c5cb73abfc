"""Training callbacks with Keras 3 semantics: hooks the trainer calls around epochs and batches.

The trainer wraps the user's callbacks in a ``CallbackList`` (which adds ``History`` and, unless
``verbose=0``, a ``ProgbarLogger``) and calls its ``on_*`` hooks. Callbacks act on the model only
through a small protocol: ``model.stop_training`` (bool), ``model.get_weights()`` /
``model.set_weights(list)``, ``model.save(path)``, ``model.save_weights(path)`` and
``model.optimizer.learning_rate`` (a settable float).

One module per callback, as in Keras' ``keras/src/callbacks/``; ``callback.py`` holds the base
class and the log helpers they share.

Logs are plain dicts of metric name to value; values may be Python floats, NumPy scalars or
scalar Tensors (anything ``float()`` accepts).
"""

from tapegrad.nn.callbacks.backup_and_restore import BackupAndRestore
from tapegrad.nn.callbacks.callback import Callback
from tapegrad.nn.callbacks.callback import Logs as Logs  # the type of ``logs`` (not in __all__)
from tapegrad.nn.callbacks.callback_list import CallbackList
from tapegrad.nn.callbacks.csv_logger import CSVLogger
from tapegrad.nn.callbacks.early_stopping import EarlyStopping
from tapegrad.nn.callbacks.history import History
from tapegrad.nn.callbacks.lambda_callback import LambdaCallback
from tapegrad.nn.callbacks.learning_rate_scheduler import LearningRateScheduler
from tapegrad.nn.callbacks.model_checkpoint import ModelCheckpoint
from tapegrad.nn.callbacks.monitor_callback import MonitorCallback
from tapegrad.nn.callbacks.progbar_logger import ProgbarLogger
from tapegrad.nn.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from tapegrad.nn.callbacks.remote_monitor import RemoteMonitor
from tapegrad.nn.callbacks.swap_ema_weights import SwapEMAWeights
from tapegrad.nn.callbacks.tensorboard import TensorBoard
from tapegrad.nn.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "SwapEMAWeights",
    "TensorBoard",
    "TerminateOnNaN",
]
