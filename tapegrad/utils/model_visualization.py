"""`plot_model` and `model_to_dot` (Keras 3's ``keras.utils``): the layer graph of a model,
drawn with the system's Graphviz ``dot`` program (no Python dependency). A ``.dot`` file
name writes the DOT text itself, which needs nothing installed."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from typing import Any

_RANKDIRS = ("TB", "LR")
_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "gif", "ps", "dot")


class DotGraph:
    """A model's graph in the DOT language (what Keras' ``model_to_dot`` returns as a
    ``pydot.Dot``, with the same ``to_string``, ``create`` and ``write`` methods).

    Args:
        source: The DOT text.
        dpi: Resolution of raster images.
    """

    def __init__(self, source: str, dpi: int = 200) -> None:
        self.source = source
        self.dpi = dpi

    def to_string(self) -> str:
        """The DOT text."""
        return self.source

    def __str__(self) -> str:
        return self.source

    def create(self, prog: str = "dot", format: str = "png") -> bytes:  # noqa: A002
        """The image rendered by Graphviz (``format``: png, svg, pdf, ...).

        Raises:
            RuntimeError: Graphviz is not installed, or fails (with its message).
        """
        if format == "dot":
            return self.source.encode()
        program = shutil.which(prog)
        if program is None:
            raise RuntimeError(
                f"plot_model: the Graphviz program {prog!r} was not found; install "
                "Graphviz (apt-get install graphviz, brew install graphviz, or "
                "conda install graphviz), or save to a '.dot' file name instead"
            )
        done = subprocess.run(  # noqa: S603 (a fixed program, our own DOT text on stdin)
            [program, f"-T{format}", f"-Gdpi={self.dpi}"],
            input=self.source.encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"plot_model: Graphviz failed: {done.stderr.decode(errors='replace')[:500]}"
            )
        return done.stdout

    def write(self, path: str | os.PathLike[str], format: str = "png") -> None:  # noqa: A002
        """Render and write the image to ``path``."""
        data = self.create(format=format)
        with open(path, "wb") as file:
            file.write(data)

    def _repr_svg_(self) -> str | None:
        try:
            return self.create(format="svg").decode()
        except RuntimeError:
            return None


def model_to_dot(
    model: Any,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    subgraph: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    **kwargs: Any,
) -> DotGraph:
    """The layer graph of ``model`` as DOT (Keras' arguments).

    Args:
        model: A built `Sequential` or functional `Model`.
        show_shapes: Show each layer's output shape.
        show_dtype: Show each layer's output dtype.
        show_layer_names: Show layer names (else class names only).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: Draw the layers of nested models inside a box.
        dpi: Resolution of raster images.
        subgraph: Accepted for Keras compatibility (used by Keras internally).
        show_layer_activations: Show the activation of layers that have one.
        show_trainable: Show whether each layer is trainable.
        splines: Graphviz's edge style (``"ortho"``: right angles, ``"spline"``, ...).
        **kwargs: Refused (named).

    Returns:
        A `DotGraph`.

    Raises:
        ValueError: A model that is not built (its graph is unknown), or a bad argument.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2, name="out")])
        >>> text = model_to_dot(model, show_shapes=True).to_string()
        >>> "out (Dense)" in text and "(None, 2)" in text
        True
    """
    del subgraph
    if kwargs:
        raise TypeError(f"model_to_dot: unexpected arguments {sorted(kwargs)}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"model_to_dot: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_trainable": show_trainable,
        "expand_nested": expand_nested,
    }
    lines = [
        "digraph G {",
        f'  graph [rankdir={rankdir}, dpi={int(dpi)}, splines="{_quoted(splines)}", '
        "concentrate=true];",
        '  node [shape=record, fontname="Helvetica", fontsize=11];',
    ]
    _draw(model, "", lines, options, "  ")
    lines.append("}")
    return DotGraph("\n".join(lines) + "\n", dpi=int(dpi))


def plot_model(
    model: Any,
    to_file: str = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    **kwargs: Any,
) -> Any:
    """Draw the layer graph of ``model`` to an image file (Keras' ``plot_model``).

    The image format is the file's extension (png, svg, pdf, jpg, ...), rendered by the
    Graphviz ``dot`` program; a ``.dot`` file gets the DOT text and needs no Graphviz.

    Args:
        model: A built `Sequential` or functional `Model`.
        to_file: The file to write.
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
        show_layer_activations, show_trainable, splines: As in `model_to_dot`
        (``show_layer_names`` defaults to False here, as in Keras 3).
        **kwargs: Refused (named).

    Returns:
        In a notebook (IPython available), an ``IPython.display.Image`` of a PNG file;
        else None, as Keras does.

    Raises:
        RuntimeError: Graphviz is missing (the message says how to install it).

    Examples:
        >>> import os, tempfile
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.dot")
        >>> plot_model(model, to_file=path, show_shapes=True)
        >>> open(path).read().startswith("digraph G {")
        True
    """
    graph = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
        **kwargs,
    )
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1][1:].lower() or "png"
    if extension not in _FORMATS:
        raise ValueError(
            f"plot_model: unknown image format {extension!r} of {path!r}; "
            f"use one of {list(_FORMATS)}"
        )
    graph.write(path, format=extension)
    if extension == "png":
        try:
            from IPython import display  # type: ignore[import-not-found]
        except ImportError:
            return None
        return display.Image(filename=path)
    return None


def _draw(model: Any, prefix: str, lines: list[str], options: dict[str, Any], indent: str) -> None:
    """Add the nodes and edges of ``model`` (ids prefixed, for nested models)."""
    nodes = _graph_nodes(model)
    layers: list[Any] = []
    edges: list[tuple[Any, Any]] = []
    for node in nodes:
        sources = [tensor.history[0] for tensor in node.flat_inputs]
        for source in sources:
            if source not in layers:
                layers.append(source)
            edges.append((source, node.layer))
        if node.layer not in layers:
            layers.append(node.layer)
    for layer in model.layers:
        if layer not in layers:
            layers.append(layer)
    outputs = {id(node.layer): node.outputs for node in nodes}
    for layer in layers:
        if options["expand_nested"] and _is_model(layer) and _graph_nodes(layer):
            name = html.escape(layer.name)
            lines.append(f"{indent}subgraph cluster_{_node_id(prefix, layer)} {{")
            lines.append(f'{indent}  label="{name} ({type(layer).__name__})";')
            _draw(layer, prefix + layer.name + "/", lines, options, indent + "  ")
            lines.append(f"{indent}}}")
            continue
        label = _label(layer, outputs.get(id(layer)), options)
        lines.append(f'{indent}{_node_id(prefix, layer)} [label="{label}"];')
    for source, target in edges:
        tail = _edge_end(source, prefix, options, last=True)
        head = _edge_end(target, prefix, options, last=False)
        lines.append(f"{indent}{tail} -> {head};")


def _edge_end(layer: Any, prefix: str, options: dict[str, Any], last: bool) -> str:
    """The node an edge to or from ``layer`` attaches to (inside an expanded model: its
    first input or its last layer)."""
    if options["expand_nested"] and _is_model(layer) and _graph_nodes(layer):
        inner = _graph_nodes(layer)
        if last:
            return _edge_end(inner[-1].layer, prefix + layer.name + "/", options, last)
        first = inner[0].flat_inputs[0].history[0] if inner[0].flat_inputs else inner[0].layer
        return _node_id(prefix + layer.name + "/", first)
    return _node_id(prefix, layer)


def _graph_nodes(model: Any) -> list[Any]:
    if not _is_model(model):
        return []
    nodes = getattr(model, "_graph_nodes", None)
    if nodes is None or (not nodes and model.layers):
        raise ValueError(
            f"plot_model: model '{model.name}' is not built: its layer graph is unknown "
            "(give it an Input, or call it on data first)"
        )
    return list(nodes)


def _is_model(layer: Any) -> bool:
    from tapegrad.nn.models import Model

    return isinstance(layer, Model)


def _node_id(prefix: str, layer: Any) -> str:
    return '"' + (prefix + layer.name).replace('"', "'") + '"'


def _label(layer: Any, outputs: Any, options: dict[str, Any]) -> str:
    kind = type(layer).__name__
    title = f"{layer.name} ({kind})" if options["show_layer_names"] else kind
    parts = [_escape(title)]
    activation = getattr(layer, "activation", None)
    if options["show_layer_activations"] and callable(activation):
        parts.append(_escape(f"activation: {getattr(activation, '__name__', activation)}"))
    tensors = outputs if outputs is not None else _layer_output(layer)
    if options["show_shapes"]:
        shapes = [tuple(t.shape) for t in tensors] if tensors else ["?"]
        shown = shapes[0] if len(shapes) == 1 else shapes
        parts.append(_escape(f"Output shape: {shown}"))
    if options["show_dtype"]:
        dtypes = sorted({str(t.dtype) for t in tensors}) if tensors else ["?"]
        parts.append(_escape(f"dtype: {', '.join(dtypes)}"))
    if options["show_trainable"]:
        parts.append(_escape(f"Trainable: {'T' if layer.trainable else 'F'}"))
    return "{" + "|".join(parts) + "}"


def _layer_output(layer: Any) -> list[Any]:
    try:  # an InputLayer's tensor; a layer outside any graph has none
        output = getattr(layer, "output", None)
    except ValueError:
        return []
    if output is None:
        return []
    return list(output) if isinstance(output, list | tuple) else [output]


def _quoted(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _escape(text: str) -> str:
    """Text in a DOT record label: its special characters escaped."""
    for char in '\\{}|<>"':
        text = text.replace(char, "\\" + char)
    return text


__all__ = ["DotGraph", "model_to_dot", "plot_model"]
