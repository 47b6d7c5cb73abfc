"""Which of NumPy's public functions tapegrad.numpy differentiates.

Run ``python -m tapegrad.numpy.coverage`` (``--markdown`` for a docs page). Each public
function of ``numpy``, ``numpy.linalg`` and ``numpy.fft`` is one of:

* **differentiable** — gradients flow through it;
* **pass-through** — supported on Tensors, but its result carries no gradient (indices,
  booleans, shapes, integer-valued functions such as ``floor``, constant creation);
* **unsupported** — not in tapegrad.numpy, for one of the reasons of `CATEGORIES`: it
  does not compute on numbers (files, text, dates, NumPy's own settings, memory
  addresses). Each such name has its reason in `UNSUPPORTED_REASONS`, shown by the report.

Examples:
    >>> classify("sin"), classify("argmax"), classify("loadtxt")
    ('differentiable', 'pass-through', 'unsupported')
    >>> reason("loadtxt")
    'I/O: reads a text file; read it with NumPy, then tnp.asarray(...)'
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import numpy as np

from tapegrad.core.primitive import Primitive

# Functions of tapegrad.numpy whose results carry no gradient (beyond non-differentiable
# primitives, which are found automatically).
PASS_THROUGH = frozenset(
    """argmax argmin argsort argpartition nonzero argwhere flatnonzero searchsorted any all
    count_nonzero isclose allclose array_equal shape ndim size result_type indices zeros ones
    full empty zeros_like ones_like full_like empty_like eye identity
    tri round around matrix_rank array_equiv
    signbit isneginf isposinf iscomplex isreal iscomplexobj isrealobj isscalar iterable isin
    unique unique_all unique_counts unique_inverse unique_values lexsort ix_ unravel_index
    ravel_multi_index tril_indices triu_indices diag_indices tril_indices_from
    triu_indices_from diag_indices_from broadcast_shapes gcd lcm left_shift right_shift
    bitwise_left_shift bitwise_right_shift imag angle nanargmax nanargmin digitize histogram
    histogram_bin_edges histogram2d histogramdd bitwise_count packbits unpackbits
    min_scalar_type can_cast common_type isdtype issubdtype mintypecode promote_types typename
    mask_indices from_dlpack spacing nextafter einsum_path bartlett blackman hamming
    hanning fftfreq rfftfreq""".split()
)

#: The only reasons a NumPy function may be left out: none of them computes on numbers.
CATEGORIES = ("I/O", "printing", "datetime", "configuration", "memory layout")

_READS = "read it with NumPy, then tnp.asarray(...)"
_WRITES = "NumPy writes a Tensor as it is (np.save(path, t))"
_PRINTS = "str(t) and repr(t) print Tensors; NumPy's formatting works on np.asarray(t)"
#: Why each unsupported NumPy name is left out: ``"<category>: <explanation>"``, the
#: category one of `CATEGORIES`.
UNSUPPORTED_REASONS: dict[str, str] = {
    "load": f"I/O: reads .npy/.npz files; {_READS}",
    "loadtxt": f"I/O: reads a text file; {_READS}",
    "genfromtxt": f"I/O: reads a text file; {_READS}",
    "fromfile": f"I/O: reads a binary file; {_READS}",
    "fromregex": f"I/O: parses a text file; {_READS}",
    "frombuffer": f"I/O: reinterprets the raw bytes of a buffer; {_READS}",
    "fromstring": f"I/O: parses text or raw bytes; {_READS}",
    "save": f"I/O: writes a .npy file; {_WRITES}",
    "savez": f"I/O: writes a .npz file; {_WRITES}",
    "savez_compressed": f"I/O: writes a .npz file; {_WRITES}",
    "savetxt": f"I/O: writes a text file; {_WRITES}",
    "array2string": f"printing: formats an array as text; {_PRINTS}",
    "array_repr": f"printing: formats an array as text; {_PRINTS}",
    "array_str": f"printing: formats an array as text; {_PRINTS}",
    "base_repr": "printing: formats a Python integer as text",
    "binary_repr": "printing: formats a Python integer as text",
    "format_float_positional": "printing: formats a Python float as text",
    "format_float_scientific": "printing: formats a Python float as text",
    "get_printoptions": "printing: NumPy's print settings (Tensors print with them)",
    "set_printoptions": "printing: NumPy's print settings (Tensors print with them)",
    "printoptions": "printing: NumPy's print settings (Tensors print with them)",
    "info": "printing: prints NumPy's documentation",
    "busday_count": "datetime: business-day calendars on datetime64 (no gradient to take)",
    "busday_offset": "datetime: business-day calendars on datetime64 (no gradient to take)",
    "is_busday": "datetime: business-day calendars on datetime64 (no gradient to take)",
    "datetime_as_string": "datetime: formats datetime64 values",
    "datetime_data": "datetime: reads a datetime64 dtype's unit",
    "isnat": "datetime: tests datetime64 values for NaT (Tensors hold numbers only)",
    "get_include": "configuration: the path of NumPy's C headers",
    "show_config": "configuration: NumPy's build settings",
    "show_runtime": "configuration: NumPy's runtime environment",
    "test": "configuration: runs NumPy's own test suite",
    "getbufsize": "configuration: NumPy's ufunc buffer size",
    "setbufsize": "configuration: NumPy's ufunc buffer size",
    "geterr": "configuration: NumPy's floating-point error handling (np.errstate)",
    "seterr": "configuration: NumPy's floating-point error handling (np.errstate)",
    "geterrcall": "configuration: NumPy's floating-point error handling (np.errstate)",
    "seterrcall": "configuration: NumPy's floating-point error handling (np.errstate)",
    "isfortran": "memory layout: Tensors are immutable values with no memory order to ask",
    "may_share_memory": "memory layout: Tensors never share memory a user can write to",
    "shares_memory": "memory layout: Tensors never share memory a user can write to",
    "nested_iters": "memory layout: NumPy's buffered iterator (np.nditer) over array memory",
}

_KINDS = ("differentiable", "pass-through", "unsupported")
_MODULES = ("numpy", "numpy.linalg", "numpy.fft")


def _public_functions(module: object) -> list[str]:
    names = []
    for name in dir(module):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if isinstance(obj, np.ufunc) or (callable(obj) and not isinstance(obj, type)):
            names.append(name)
    return sorted(names)


def classify(name: str, module: str = "numpy") -> str:
    """``"differentiable"``, ``"pass-through"`` or ``"unsupported"`` for ``module.name``.

    Args:
        name: A public function of NumPy's ``module``.
        module: ``"numpy"``, ``"numpy.linalg"`` or ``"numpy.fft"``.

    Returns:
        The kind of tapegrad.numpy's function of that name.
    """
    target = "tapegrad.numpy" + module.removeprefix("numpy")
    func = getattr(importlib.import_module(target), name, None)
    if func is None or not callable(func):
        return "unsupported"
    func = getattr(func, "__tapegrad_raw__", func)  # (the namespace's symbolic-aware wrapper)
    if isinstance(func, Primitive) and not func.differentiable:
        return "pass-through"
    if name in PASS_THROUGH:
        return "pass-through"
    return "differentiable"


def reason(name: str) -> str:
    """Why NumPy's ``name`` is unsupported (``"<category>: <explanation>"``).

    Args:
        name: An unsupported NumPy function.

    Returns:
        Its entry in `UNSUPPORTED_REASONS`, or ``"no reason recorded"`` (a gap: a test
        fails on it).
    """
    return UNSUPPORTED_REASONS.get(name, "no reason recorded")


def report() -> dict[str, dict[str, str]]:
    """Classification of every public function, by module (``numpy``, ``numpy.linalg``,
    ``numpy.fft``).

    Returns:
        ``{module: {name: kind}}``, names sorted.
    """
    out: dict[str, dict[str, str]] = {}
    for module in _MODULES:
        names = _public_functions(importlib.import_module(module))
        out[module] = {name: classify(name, module) for name in names}
    return out


def counts(entries: dict[str, str]) -> dict[str, int]:
    """How many functions of one module's report are of each kind.

    Args:
        entries: ``{name: kind}`` (one module of `report`).

    Returns:
        ``{"differentiable": n, "pass-through": n, "unsupported": n}``.
    """
    return {kind: sum(v == kind for v in entries.values()) for kind in _KINDS}


def _print_markdown(table: dict[str, dict[str, str]]) -> None:
    print("# tapegrad.numpy coverage\n")
    print(
        "Generated by `python -m tapegrad.numpy.coverage --markdown` "
        f"(NumPy {np.__version__}). Unsupported functions do not compute on numbers: "
        f"each is one of {', '.join(CATEGORIES)}, with its reason below.\n"
    )
    print("| module | differentiable | pass-through | unsupported |")
    print("| --- | ---: | ---: | ---: |")
    for module, entries in table.items():
        print(f"| `{module}` | " + " | ".join(str(n) for n in counts(entries).values()) + " |")
    print()
    for module, entries in table.items():
        print(f"## `{module}`\n")
        for kind in _KINDS[:2]:
            names = [n for n, v in entries.items() if v == kind]
            print(f"**{kind}** ({len(names)}): " + ", ".join(f"`{n}`" for n in names) + "\n")
        names = [n for n, v in entries.items() if v == "unsupported"]
        print(f"**unsupported** ({len(names)}):\n")
        if names:
            print("| function | reason |")
            print("| --- | --- |")
            for name in names:
                print(f"| `{name}` | {reason(name)} |")
            print()


def _print_text(table: dict[str, dict[str, str]]) -> None:
    width = max(len(module) for module in table) + 1
    for module, entries in table.items():
        summary = ", ".join(f"{n} {k}" for k, n in counts(entries).items())
        print(f"{module + ':':{width}s} {summary}")
    for module, entries in table.items():
        print(f"\n{module}")
        for name, kind in entries.items():
            why = f"  ({reason(name)})" if kind == "unsupported" else ""
            print(f"  {name:28s} {kind}{why}")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the coverage table (plain text, or Markdown with ``--markdown``): the counts
    of each module first, then every function with its kind (and reason, if unsupported).

    Args:
        argv: Command-line arguments (``["--markdown"]`` or none).

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown page")
    args = parser.parse_args(argv)
    table = report()
    if args.markdown:
        _print_markdown(table)
    else:
        _print_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
