"""The text of a derivative rule: what `explain` prints beside each backward step.

Every backward node of an explanation was produced by one VJP rule: a rule of the
primitive table (``sin_p.defvjp(lambda g, ans, x: g * cos_p(x))`` gives the text
``g * cos_p(x)``), a `tapegrad.defvjp` maker of a user primitive, or the ``grad_fn`` of a
`tapegrad.custom_gradient`. `describe_rule` finds the function's own source: a lambda's
body (the span its bytecode covers), a function's returned expression when its body is
one ``return``, else the function's name and its source location.

Examples:
    >>> from tapegrad.core.prims.elementwise import sin_p
    >>> rule = describe_rule(sin_p.vjp_rules[0])
    >>> rule.text
    'g * cos_p(x)'
    >>> rule.location.rsplit(":", 1)[0].endswith("elementwise.py")  # (file:line)
    True
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import linecache
import os
import textwrap
from collections.abc import Callable
from typing import Any

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class RuleText:
    """Where a derivative rule is written and what it says.

    Attributes:
        text: One line: a lambda's body or a function's returned expression (or
            ``name(...)`` for a longer function).
        location: ``file:line`` of its definition (paths inside tapegrad relative to the
            package's parent folder, e.g. ``tapegrad/core/prims/elementwise.py:124``).
        source: The whole definition (the statement holding a lambda), for tooltips.
        name: The function's name (``<lambda>`` for a lambda).
    """

    text: str
    location: str
    source: str
    name: str


UNKNOWN = RuleText("?", "<unknown>", "", "?")


def unwrap_rule(rule: Any) -> Any:
    """The user's function behind wrappers (`functools.partial`, ``__wrapped__``)."""
    for _ in range(16):  # (a wrapper cycle must not hang explain)
        if isinstance(rule, functools.partial):
            rule = rule.func
        elif getattr(rule, "__wrapped__", None) is not None:
            rule = rule.__wrapped__
        else:
            break
    return rule


def short_path(filename: str) -> str:
    """A path inside tapegrad relative to the package's parent folder, others as given."""
    absolute = os.path.abspath(filename)
    root = os.path.dirname(_PACKAGE_ROOT)
    if absolute.startswith(_PACKAGE_ROOT + os.sep):
        return os.path.relpath(absolute, root).replace(os.sep, "/")
    return filename


@functools.lru_cache(maxsize=1024)
def _describe_code(code: Any, name: str) -> RuleText:
    location = f"{short_path(code.co_filename)}:{code.co_firstlineno}"
    if name == "<lambda>":
        text = _lambda_body(code)
        source = linecache.getline(code.co_filename, code.co_firstlineno).strip()
        return RuleText(text or source, location, source, name)
    return RuleText(f"{name}(...)", location, "", name)


def describe_rule(rule: Callable[..., Any] | None) -> RuleText:
    """The text and location of a derivative rule (see the module docstring).

    Args:
        rule: A VJP rule, maker or ``grad_fn`` (wrappers are looked through).

    Returns:
        A `RuleText`; `UNKNOWN` when the function has no Python source (a builtin).
    """
    fn = unwrap_rule(rule)
    code = getattr(fn, "__code__", None)
    if code is None:
        return UNKNOWN
    name = getattr(fn, "__name__", "?")
    described = _describe_code(code, name)
    if name != "<lambda>" and not described.source:
        described = _describe_function(fn, described)
    return described


def _describe_function(fn: Any, fallback: RuleText) -> RuleText:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return fallback
    text = fallback.text
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return dataclasses.replace(fallback, source=source)
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    statements = [
        s
        for s in body
        if not (isinstance(s, ast.Expr) and isinstance(getattr(s, "value", None), ast.Constant))
    ]
    if len(statements) == 1 and isinstance(statements[0], ast.Return) and statements[0].value:
        segment = ast.get_source_segment(source, statements[0].value)
        if segment:
            text = " ".join(segment.split())
    return RuleText(text, fallback.location, source, fallback.name)


def _lambda_body(code: Any) -> str:
    """A lambda's body, from the source span its instructions cover (Python 3.11+)."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return ""
    spans = [
        p
        for p in positions()
        if p[0] is not None and p[2] is not None and not (p[2] == 0 and p[3] == 0)
    ]
    if not spans:
        return ""
    start = min((p[0], p[2]) for p in spans)
    end = max((p[1], p[3]) for p in spans)
    lines = [linecache.getline(code.co_filename, number) for number in range(start[0], end[0] + 1)]
    if not any(lines):
        return ""
    if len(lines) == 1:
        return lines[0][start[1] : end[1]].strip()
    lines[-1] = lines[-1][: end[1]]
    lines[0] = lines[0][start[1] :]
    return " ".join(" ".join(lines).split())


__all__ = ["RuleText", "UNKNOWN", "describe_rule", "short_path", "unwrap_rule"]
