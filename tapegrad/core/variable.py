"""Variable: a mutable Tensor, and the ownership of its array that decides in-place updates.

A Variable's update (`Variable.assign*`, a compiled step's) writes into the Variable's
array only while the Variable owns it. What takes ownership away is told to the Variable
explicitly, never inferred from interpreter details such as reference counts:

* the array escapes (`mark_shared`): ``numpy()`` / ``np.asarray(v)`` hand it out, a
  primitive whose record says its result may alias an input returns a view of it
  (`note_views`, called by `Primitive.__call__` for those primitives only), a Tensor or a
  transform's argument is made on it, a compiled function returns it;
* a tape's record may keep the array: a tape that records an op reading a Variable (or,
  not watching accessed Variables, once it is entered) leases every Variable at once
  (`lease_all`) until it is done (`release_all`: a non-persistent tape after
  ``gradient``, any tape on ``reset`` or when it is garbage-collected) — one lease per
  tape is what the training step's budget affords; a Variable a tape ``watch``es gets a
  lease of its own (`lease`, `release`).

An update of an array the Variable does not own allocates a new array, which the Variable
owns again; so a training step (forward under a tape, ``gradient``, the optimizer's
update) writes in place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from tapegrad.core.tensor import Tensor, default_array
from tapegrad.core.tracing import current_tracer as _hook

# The ids of the holders of a lease on every Variable (`lease_all`).
_LEASES_ON_ALL: dict[int, None] = {}
# Per thread (as Keras' global state): the open `name_scope`s, innermost last.
_SCOPES = threading.local()


class name_scope:  # noqa: N801 (Keras 3's name, used as a context manager)
    """A scope of Variable paths, as Keras 3's ``keras.name_scope``.

    A Variable made inside takes the path ``<scope path>/<name>``. A layer opens its scope
    while it builds and on its first call (and `Layer.add_weight` while it creates a
    weight), so a weight's `Variable.path` reads ``sequential/dense/kernel``.

    Args:
        name: The scope's name (no ``/``).
        caller: The object opening it (a layer): a scope of the same caller and name
            directly inside it is not opened twice.
        deduplicate: Whether that merging (and a caller's fixed ``_parent_path``) applies.
        override_parent: A path that replaces the enclosing scopes' path.

    Examples:
        >>> import tapegrad as tg
        >>> with name_scope("block"):
        ...     with name_scope("dense"):
        ...         v = tg.Variable([1.0], name="kernel")
        >>> v.path, v.name
        ('block/dense/kernel', 'kernel')
    """

    def __init__(
        self,
        name: str,
        caller: Any = None,
        deduplicate: bool = True,
        override_parent: str | None = None,
    ) -> None:
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"name_scope: name must be a string without '/', got {name!r}")
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        if override_parent is None and deduplicate:
            # A layer keeps the place where it first opened its scope (Keras' _parent_path).
            override_parent = getattr(caller, "_parent_path", None)
        self.override_parent = override_parent
        self.path = ""
        self._pushed = False

    def __enter__(self) -> name_scope:
        stack = _scope_stack()
        if self.deduplicate and stack and self.caller is not None:
            top = stack[-1]
            if top.caller is self.caller and top.name == self.name:
                self.path = top.path
                return self
        parent = self.override_parent if self.override_parent is not None else current_path()
        self.path = f"{parent}/{self.name}" if parent else self.name
        stack.append(self)
        self._pushed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pushed:
            self._pushed = False
            stack = _scope_stack()
            if stack and stack[-1] is self:
                stack.pop()


def _scope_stack() -> list[name_scope]:
    stack = getattr(_SCOPES, "stack", None)
    if stack is None:
        stack = _SCOPES.stack = []
    return stack


def current_path() -> str:
    """The path of the innermost open `name_scope` ('' outside any).

    Examples:
        >>> with name_scope("outer"):
        ...     current_path()
        'outer'
        >>> current_path()
        ''
    """
    stack = getattr(_SCOPES, "stack", None)
    return stack[-1].path if stack else ""


class Variable(Tensor):
    """A mutable tensor holding model state; trainable Variables are watched automatically.

    Updates (`assign`, `assign_add`, `assign_sub`) write into the Variable's array when the
    Variable owns it, and otherwise give the Variable a new array, so whoever holds the old
    one keeps the value it saw. The Variable stops owning its array when the array escapes:
    `numpy()` / `np.asarray(v)` hand it out, an op whose result may be a view of its input
    (reshape, transpose, basic indexing: the primitive record's ``returns`` fact) returns
    one, or a compiled function returns it. A tape that records an op on a Variable holds
    a lease on all Variables until the tape is done (a non-persistent tape after
    `gradient`, any tape when it is reset or garbage-collected): its record keeps the
    arrays its ops read. The new
    array an update allocates is owned again, so a training step (forward under a tape,
    `gradient`, then the optimizer's update) updates in place.

    Args:
        initial_value: Array-like initial value (or a callable returning one); copied when
            the Variable would otherwise share the caller's array.
        trainable: Whether tapes watch it automatically and optimizers update it.
        name: Optional short name (``kernel``), used in messages.
        dtype: Optional dtype (default: float32 for Python floats, else the array's).

    The Variable's `path` is its name inside the `name_scope`s open when it is made: a
    layer's weight reads ``sequential/dense/kernel`` (Keras 3's ``Variable.path``), its
    ``name`` ``kernel``; outside any scope the path is the name.

    Examples:
        >>> import tapegrad as tg
        >>> v = tg.Variable([1.0, 2.0], name="w")
        >>> v.assign_add([1.0, 1.0]).numpy()
        array([2., 3.], dtype=float32)
        >>> seen = v.numpy()  # the array escapes: the next update allocates a new one
        >>> _ = v.assign_add([1.0, 1.0])
        >>> seen, v.numpy()
        (array([2., 3.], dtype=float32), array([3., 4.], dtype=float32))
    """

    # `constraint`: set by Layer.add_weight, applied by the optimizer after each update.
    # `_shared`: the array may be seen outside the Variable (it escaped). `_leases`: the
    # ids of the live tapes whose records may hold the Variable's arrays (a dict: single
    # insertions and removals are atomic, so tapes of several threads may lease at once).
    # `path`: the name inside the scopes open at creation (Keras 3's, fixed from then on).
    __slots__ = ("trainable", "name", "path", "constraint", "_shared", "_leases")

    def __init__(
        self,
        initial_value: Any,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        if callable(initial_value):
            initial_value = initial_value()
        source = initial_value._value if isinstance(initial_value, Tensor) else initial_value
        value = default_array(source, dtype)
        # A Variable owns its buffer: never alias the caller's array (or another Tensor's).
        if value is source or not (value.flags.owndata and value.flags.writeable):
            value = np.array(value, copy=True)
        self._value = value
        self._shared = False
        self._leases: dict[int, None] = {}
        self.trainable = trainable
        self.name = name or "Variable"
        parent = current_path()
        self.path = f"{parent}/{self.name}" if parent else self.name
        self.constraint: Any = None

    @property
    def value(self) -> Tensor:
        """A snapshot of the current value as an immutable Tensor (a copy: later updates
        may write into the Variable's array)."""
        return Tensor._wrap(self._value.copy())

    def _lend(self, array: Any) -> None:
        note_views(array, (self,))

    def numpy(self) -> np.ndarray:
        """The current array (do not mutate it). It stays as it is: the Variable's next
        update writes a new array instead of this one."""
        arr = super().numpy()
        self._shared = True
        return arr

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = super().__array__(dtype, copy)
        if arr is self._value or arr.base is not None:  # (not a copy or a cast)
            self._shared = True
        return arr

    def _checked(self, value: Any) -> np.ndarray:
        current = self._value
        if type(value) is Tensor:
            new = value._value
            # The optimizers' case: a Tensor of the variable's shape and dtype, as is.
            if (
                type(new) is np.ndarray
                and new.dtype == current.dtype
                and new.shape == current.shape
            ):
                return new
        new = np.asarray(value._value if isinstance(value, Tensor) else value)
        if new.shape != self._value.shape:
            raise ValueError(
                f"Variable '{self.name}': cannot assign a value of shape {new.shape} "
                f"to a variable of shape {self._value.shape}"
            )
        return new.astype(self._value.dtype, copy=False)

    def _owns(self) -> bool:
        """Whether an update may overwrite the array: it never escaped, no live tape's
        record may hold it, and it is writeable (not a broadcast)."""
        return (
            not self._shared
            and not self._leases
            and not _LEASES_ON_ALL
            and self._value.flags.writeable
        )

    def _update_in_place(self, delta: Tensor, ufunc: Any) -> bool:
        """An optimizer's update (every variable, every step) in one test: a Tensor of the
        variable's shape and dtype into an array the Variable owns (`_checked` and `_owns`
        inlined: the same tests). False: nothing done."""
        value = self._value
        new = delta._value
        if (
            type(new) is np.ndarray
            and new.dtype == value.dtype
            and new.shape == value.shape
            and not self._shared
            and not self._leases
            and not _LEASES_ON_ALL
            and value.flags.writeable
        ):
            ufunc(value, new, out=value)
            return True
        return False

    def _replace(self, value: np.ndarray) -> None:
        """Hold a new array that nothing else sees (the Variable owns it again)."""
        self._value = value
        self._shared = False

    def assign(self, value: Any) -> Variable:
        """Replace the value (same shape; cast to the variable's dtype)."""
        hook = _hook()
        if hook is not None and hook.assign(self, value, "assign"):
            return self
        new = self._checked(value)
        if self._owns():
            np.copyto(self._value, new)
        else:
            self._replace(np.array(new, copy=True))
        return self

    def assign_add(self, delta: Any) -> Variable:
        """Add ``delta`` to the value."""
        hook = _hook()
        if hook is not None and hook.assign(self, delta, "assign_add"):
            return self
        if type(delta) is Tensor and self._update_in_place(delta, np.add):
            return self
        delta = self._checked(delta)
        if self._owns():  # in place: no allocation (a large weight's fresh pages)
            np.add(self._value, delta, out=self._value)
        else:
            self._replace(self._value + delta)
        return self

    def assign_sub(self, delta: Any) -> Variable:
        """Subtract ``delta`` from the value."""
        hook = _hook()
        if hook is not None and hook.assign(self, delta, "assign_sub"):
            return self
        if type(delta) is Tensor and self._update_in_place(delta, np.subtract):
            return self
        delta = self._checked(delta)
        if self._owns():
            np.subtract(self._value, delta, out=self._value)
        else:
            self._replace(self._value - delta)
        return self

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self._value), separator=", ", prefix="Variable(")
        return f"Variable({body}, path={self.path!r}, dtype={self.dtype})"


# -- ownership: what the tape, the primitives and compiled functions tell a Variable ------


def lease(variable: Variable, holder: object) -> None:
    """Record that ``holder`` (a tape) may keep the Variable's arrays: until `release`,
    updates give the Variable new arrays instead of overwriting the one it has.

    Args:
        variable: The Variable.
        holder: The object holding the lease (keyed by its id: keep it alive until
            `release`).

    Examples:
        >>> import tapegrad as tg
        >>> v, holder = tg.Variable([1.0]), object()
        >>> lease(v, holder)
        >>> owns_value(v)
        False
        >>> release([v], holder)
        >>> owns_value(v)
        True
    """
    variable._leases[id(holder)] = None


def release(variables: Iterable[Variable], holder: object) -> None:
    """End ``holder``'s leases on these Variables (see `lease`; where it holds none,
    nothing happens)."""
    key = id(holder)
    for variable in variables:
        variable._leases.pop(key, None)


def lease_all(holder: object) -> None:
    """`lease` every Variable, present and future, until `release_all`: for a holder that
    does not know which Variables its record reads (a tape not watching them).

    Examples:
        >>> import tapegrad as tg
        >>> v, holder = tg.Variable([1.0]), object()
        >>> lease_all(holder)
        >>> owns_value(v)
        False
        >>> release_all(holder)
        >>> owns_value(v)
        True
    """
    _LEASES_ON_ALL[id(holder)] = None


def release_all(holder: object) -> None:
    """End ``holder``'s lease on every Variable (see `lease_all`)."""
    _LEASES_ON_ALL.pop(id(holder), None)


def mark_shared(variable: Variable) -> None:
    """Record that the Variable's current array is seen outside it: its next update
    allocates a new array (which the Variable owns again).

    Examples:
        >>> import tapegrad as tg
        >>> v = tg.Variable([1.0])
        >>> mark_shared(v)
        >>> owns_value(v)
        False
    """
    variable._shared = True


def owns_value(variable: Variable) -> bool:
    """Whether an update may write into the Variable's current array (nothing else holds it).

    Examples:
        >>> import tapegrad as tg
        >>> owns_value(tg.Variable([1.0]))
        True
    """
    return variable._owns()


def writable_value(variable: Variable) -> np.ndarray:
    """The array an in-place update of the Variable may write into: its own array when it
    owns it, else a copy (to be installed with `set_value` once written).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> v = tg.Variable([1.0])
        >>> writable_value(v) is v._value
        True
        >>> seen = v.numpy()
        >>> np.shares_memory(writable_value(v), seen)
        False
    """
    value = variable._value
    return value if variable._owns() else np.array(value, copy=True)


def set_value(variable: Variable, value: np.ndarray, exclusive: bool) -> None:
    """Give the Variable a new array (a compiled step's update).

    Args:
        variable: The Variable.
        value: Its new array (same shape and dtype).
        exclusive: Nothing but the Variable holds ``value`` (it may be updated in place
            later); False: it may be shared, so the next update allocates.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> v, held = tg.Variable([1.0]), np.array([2.0], np.float32)
        >>> set_value(v, held, exclusive=False)
        >>> _ = v.assign_add([1.0])
        >>> held, v.numpy()
        (array([2.], dtype=float32), array([3.], dtype=float32))
    """
    variable._value = value
    variable._shared = not exclusive


def note_views(result: Any, args: Any) -> None:
    """Mark the Variables among ``args`` whose array ``result`` (an array or a tuple of
    them) may view: their next update allocates, so the view keeps its value. Called for
    the primitives whose record says their result may alias an input.

    Examples:
        >>> import tapegrad as tg
        >>> v = tg.Variable([1.0, 2.0])
        >>> note_views(v._value[:1], (v,))
        >>> owns_value(v)
        False
    """
    if type(result) is np.ndarray and result.base is None:
        # (the common case: an array with its own memory, which can only be an argument)
        for arg in args:
            if isinstance(arg, Variable) and arg._value is result:
                arg._shared = True
        return
    for arg in args:
        if isinstance(arg, Variable) and not arg._shared:
            value = arg._value
            for part in result if isinstance(result, tuple | list) else (result,):
                if part is value or (
                    isinstance(part, np.ndarray)
                    and part.base is not None  # (an array with its own memory views nothing)
                    and np.may_share_memory(part, value)
                ):
                    arg._shared = True
                    break
