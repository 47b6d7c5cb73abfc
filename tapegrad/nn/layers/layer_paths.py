"""Keras 3 weight paths: `Layer.path` and the name scopes a layer opens (a mixin of
`Layer`).

A layer opens its `tapegrad.core.name_scope` while it builds, on its first call and in
`add_weight`, so the Variables it makes read ``sequential/dense/kernel`` as their `path`
(``kernel`` as their ``name``), the way Keras 3 assigns them. Keras opens the scope on every
call; tapegrad opens it on the first call after the layer was built (or un-built), where
the layers that ``call`` makes are built, and keeps the calls after it free of the cost.
"""

from __future__ import annotations

from typing import Any

from tapegrad.backend import current_path, name_scope


def scope_name(layer: Any) -> str:
    """The name a layer's scope takes in paths.

    tapegrad names a layer made by another ``owner/inner`` (a ConvLSTM's
    ``conv_lstm/conv_lstm_cell``) and the owner's scope is open around it, so the part
    after the last ``/``.

    Args:
        layer: The layer.

    Returns:
        The last part of its name.

    Examples:
        >>> import tapegrad as tg
        >>> scope_name(tg.layers.Dense(2, name="mha/query"))
        'query'
    """
    return str(layer.name).rsplit("/", 1)[-1]


class PathsMixin:
    """`Layer.path` and the layer's name scope (see the module docstring)."""

    name: str
    built: bool
    # Where the layer first opened its name scope, its own path once built, and whether
    # its first call since it was (un)built ran inside its scope (setting ``built`` to
    # False clears it: `Layer.__call__` reads this one flag).
    _parent_path: str | None = None
    _path: str | None = None
    _path_settled = False

    @property
    def path(self) -> str | None:
        """The layer's path (``sequential/dense``) once built, else None (Keras 3's).

        Its weights' `Variable.path`s start with it: a layer's scope is open while it
        builds, on its first call and in `add_weight`; the path is fixed where the layer
        first opened its scope (a layer built alone and put in a model later keeps it).

        Examples:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2, name="d")],
            ...                       name="net")
            >>> model.layers[0].path, [w.path for w in model.weights]
            ('net/d', ['net/d/kernel', 'net/d/bias'])
        """
        return self._path

    def open_name_scope(self) -> name_scope:
        """The layer's `name_scope` (a context manager), for code that builds it.

        Returns:
            A `tapegrad.core.variable.name_scope` named after the layer; the first one
            opened fixes where the layer's path starts.

        Examples:
            >>> import tapegrad as tg
            >>> layer = tg.layers.Dense(2, name="outer")
            >>> with layer.open_name_scope():
            ...     inner = tg.layers.Dense(1, name="inner")
            ...     inner.build((None, 3))
            >>> inner.kernel.path
            'outer/inner/kernel'
        """
        if self._parent_path is None:
            self.__dict__["_parent_path"] = current_path()  # (no structure change)
        return name_scope(scope_name(self), caller=self)

    def _call_in_scope(self, inputs: Any, rest: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A first call (since the layer was built or un-built): inside the layer's scope,
        as Keras 3 opens it on every call, so layers built by ``call`` get their paths."""
        try:
            with self.open_name_scope() as scope:
                if not self.built:
                    self._maybe_build(inputs)
                    if not self.built:  # (a _maybe_build that does not mark it)
                        self.built = True
                if self._path is None:
                    self.__dict__["_path"] = scope.path
                # Settled only once built: a concurrent first call that saw the flag
                # would take the fast path into ``call`` while this thread still builds.
                self.__dict__["_path_settled"] = True
                return self.__call__(inputs, *rest, **kwargs)
        except BaseException:
            self.__dict__["_path_settled"] = False
            raise
