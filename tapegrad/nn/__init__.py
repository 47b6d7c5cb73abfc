"""tapegrad.nn: the Keras-style API (layers, models, losses, metrics, optimizers, training).

Everything here is built only on public tapegrad names (`tapegrad.ops`, `tapegrad.numpy`,
`tapegrad.Variable`), never on the engine's internals.
"""
