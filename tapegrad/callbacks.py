"""`tapegrad.callbacks` (Keras' `keras.callbacks`): re-exports `tapegrad.nn.callbacks`."""

from typing import Any

from tapegrad.nn.callbacks import *  # noqa: F403

# Keras names tapegrad does not have and will not soon, with why (read by
# tapegrad.keras_coverage); any other missing Keras name is "not implemented yet".
UNSUPPORTED: dict[str, str] = {}

# How the callbacks tapegrad has differ from Keras 3's (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "BackupAndRestore": (
        "one atomically written file with every random state; an int save_freq resumes at "
        "the batch (Keras restarts the epoch); deletes its own files, not backup_dir"
    ),
    "ModelCheckpoint": (
        "a '.weights.h5' name holds tapegrad's safetensors weights, not HDF5; legacy '.h5' "
        "model files are refused"
    ),
    "RemoteMonitor": "raises at construction: tapegrad sends nothing over the network",
    "SwapEMAWeights": "predict swaps the raw weights back at its end (Keras 3.15 does not)",
    "TensorBoard": (
        "needs the 'tensorboard' extra (tensorboardX); profile_batch and embeddings_freq "
        "must stay 0"
    ),
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.callbacks", name, UNSUPPORTED)
