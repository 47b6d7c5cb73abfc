"""The package's layering, read from the source: imports between packages, cycles, sizes.

Every module of ``tapegrad`` is parsed (`ast`, nothing is imported) and its ``import`` /
``from ... import`` statements resolved to modules of the package: ``from a.b import c``
names the module ``a.b.c`` when that is a module of the package, else the module ``a.b``;
relative imports are resolved against the importing module. An import counts wherever it
is written (module level or inside a function) for the layering rules, and only at module
level (class bodies included, function bodies not) for the cycle rule.

The rules:

* **core is the bottom**: a module of ``tapegrad.core`` imports only modules of
  ``tapegrad.core``. The one way up is the Tensor protocols' by-name lookup of
  ``tapegrad.numpy`` (``np.sin(t)`` and ``t.sum()`` dispatch to it at call time) in
  ``core/tensor.py``, with ``importlib.import_module``; such lookups are listed by name in
  ``BY_NAME_LOOKUPS`` and nowhere else allowed in core.
* **numpy and ops never import graph**: what they need from tracing (`is_traced`) lives in
  ``tapegrad.core.tracing``.
* **nn uses public names only**: a module of ``tapegrad.nn`` may import, from outside
  ``tapegrad.nn``, only *public modules* — ``tapegrad`` itself, a package (a folder with an
  ``__init__.py``, such as ``tapegrad.graph``, ``tapegrad.core``, ``tapegrad.numpy``) or a
  top-level module (``tapegrad.random``) — and only names that do not start with ``_``.
  Submodules of other packages (``tapegrad.graph.function``, ``tapegrad.core.tensor``)
  are their packages' insides (`NN_INSIDE_IMPORTS` lists today's exceptions).
* **no import cycles** between modules at module level (an import a module needs while it
  loads); package ``__init__`` files loaded on the way to a submodule do not count.
* **files a reader holds in one sitting**: none over `MAX_LINES` lines, and no
  ``# noqa: E402`` (an import below code, usually dodging a cycle), except the files of the
  allow-lists below. The allow-lists record each file's current count as its ceiling: they
  must only shrink (drop an entry once its file is split; never add one).
"""

from __future__ import annotations

import ast
import functools
import pathlib
import re
from collections.abc import Iterator

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent / "tapegrad"
MAX_LINES = 600

# By-name lookups of modules above core, allowed only here: (core file, module looked up).
BY_NAME_LOOKUPS = {
    ("tapegrad/core/tensor.py", "tapegrad.numpy"),
}

# Submodules of other packages that nn modules import today (file -> modules). This list
# must only shrink: export what nn needs from the package, then drop the entry.
NN_INSIDE_IMPORTS = {
    "tapegrad/nn/layers/attention.py": {"tapegrad.ops.random"},
    "tapegrad/nn/layers/core.py": {"tapegrad.ops.nn"},
    "tapegrad/nn/layers/recurrent/cells.py": {"tapegrad.ops.nn", "tapegrad.ops.random"},
}

# Files over MAX_LINES, with their line count as a ceiling. Every such file has been split,
# so the list is empty; it must stay so: split a file rather than add an entry.
OVERSIZED: dict[str, int] = {}

# Files with imports below code (E402 exemptions), with their count today as a ceiling.
# This list must only shrink, like OVERSIZED.
BOTTOM_IMPORTS = {
    "tapegrad/core/primitive.py": 1,
    "tapegrad/core/prims/linalg.py": 5,
    "tapegrad/core/prims/products.py": 3,
    "tapegrad/core/prims/reduction.py": 2,
    "tapegrad/core/prims/shape.py": 1,
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _relative(path: pathlib.Path) -> str:
    return path.relative_to(PACKAGE_ROOT.parent).as_posix()


@functools.cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_modules()[module].read_text(encoding="utf-8"))


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str | None]]:
    """``(module imported, name taken from it or None)`` for the tapegrad imports of a
    statement."""
    modules = _modules()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == "tapegrad":
                yield alias.name, None
        return
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if _is_package(module) else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    if base.split(".")[0] != "tapegrad":
        return
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            yield submodule, None
        else:
            yield base, alias.name


def _all_imports(module: str) -> Iterator[tuple[int, str, str | None]]:
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target, name in _targets(module, node):
                yield node.lineno, target, name


def _module_level_imports(module: str) -> Iterator[str]:
    stack: list[ast.AST] = list(_tree(module).body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target, _ in _targets(module, node):
                yield target
            continue
        stack.extend(ast.iter_child_nodes(node))


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_module_parses_and_the_walk_finds_the_package():
    modules = _modules()
    assert "tapegrad.core.tape" in modules and "tapegrad.nn" in modules
    for module in modules:
        assert isinstance(_tree(module), ast.Module)


def test_core_imports_nothing_above_core():
    found = [
        f"{_relative(_modules()[module])}:{line} imports {target}"
        for module in _modules()
        if _inside(module, "tapegrad.core")
        for line, target, _ in _all_imports(module)
        if not _inside(target, "tapegrad.core")
    ]
    assert not found, "core must not import the layers above it:\n" + "\n".join(found)


def test_core_looks_up_modules_above_it_only_where_documented():
    pattern = re.compile(r"""import_module\(\s*f?["'](tapegrad[\w.]*)""")
    found = set()
    for module, path in _modules().items():
        if _inside(module, "tapegrad.core"):
            for target in pattern.findall(path.read_text(encoding="utf-8")):
                if not _inside(target.rstrip("."), "tapegrad.core"):
                    found.add((_relative(path), target.rstrip(".")))
    assert found <= BY_NAME_LOOKUPS, f"undocumented by-name lookups: {found - BY_NAME_LOOKUPS}"


def test_numpy_and_ops_never_import_graph():
    found = [
        f"{_relative(_modules()[module])}:{line} imports {target}"
        for module in _modules()
        if _inside(module, "tapegrad.numpy") or _inside(module, "tapegrad.ops")
        for line, target, _ in _all_imports(module)
        if _inside(target, "tapegrad.graph")
    ]
    assert not found, "numpy/ops must not import graph:\n" + "\n".join(found)


def _public_module(module: str) -> bool:
    """tapegrad itself, a package, or a top-level module of tapegrad."""
    return module.count(".") <= 1 or _is_package(module)


def test_nn_imports_only_public_names_from_outside_nn():
    found = []
    for module in _modules():
        if not _inside(module, "tapegrad.nn"):
            continue
        for line, target, name in _all_imports(module):
            if _inside(target, "tapegrad.nn"):
                continue
            path = _relative(_modules()[module])
            where = f"{path}:{line}"
            if target in NN_INSIDE_IMPORTS.get(path, ()):
                continue
            if target not in _modules() or not _public_module(target):
                found.append(f"{where} imports the submodule {target}")
            elif name is not None and name.startswith("_"):
                found.append(f"{where} imports the private name {target}.{name}")
    assert not found, "nn must use public tapegrad names:\n" + "\n".join(found)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_at_module_level():
    modules = _modules()
    edges = {
        module: {t for t in _module_level_imports(module) if t in modules and t != module}
        for module in modules
    }
    cycles = _cycles(edges)
    assert not cycles, "modules importing each other while they load:\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_no_file_over_the_line_limit():
    over = {}
    for path in _modules().values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            over[_relative(path)] = lines
    grown = {name: n for name, n in over.items() if n > OVERSIZED.get(name, MAX_LINES)}
    assert not grown, f"over {MAX_LINES} lines (split them; OVERSIZED only shrinks): {grown}"


def test_no_bottom_of_file_imports():
    found = {}
    for path in _modules().values():
        count = path.read_text(encoding="utf-8").count("noqa: E402")
        if count:
            found[_relative(path)] = count
    grown = {name: n for name, n in found.items() if n > BOTTOM_IMPORTS.get(name, 0)}
    assert not grown, f"imports below code (# noqa: E402; BOTTOM_IMPORTS only shrinks): {grown}"
