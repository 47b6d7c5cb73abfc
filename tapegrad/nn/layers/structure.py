"""The structure version: one counter bumped whenever any layer's attributes or weights
change, so lists derived by walking a model's attributes (its weights, its metrics) can be
cached and compared against it instead of walked on every training step.

Examples:
    >>> before = structure_version()
    >>> bump_structure_version()
    >>> structure_version() == before + 1
    True
"""

from __future__ import annotations

import threading

_VERSION = [0]
# Threads' bumps (`+=` is not atomic) must not lose one another.
_LOCK = threading.Lock()


def structure_version() -> int:
    """The current structure version (read it *before* a walk: a change during the walk
    then shows as a newer version)."""
    return _VERSION[0]


def bump_structure_version() -> None:
    """Invalidate every list cached against the structure version."""
    with _LOCK:
        _VERSION[0] += 1


__all__ = ["bump_structure_version", "structure_version"]
