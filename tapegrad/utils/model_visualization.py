"""`plot_model` and `model_to_dot` (Keras 3's ``keras.utils``): the layer graph of a model.

Each layer is drawn as Keras draws it, an HTML-like table (a black title row, then the
activation, shapes, dtype and trainable cells that were asked for), and Graphviz lays the
graph out through `tapegrad.utils.graphviz.render`: the system ``dot`` program, else
pygraphviz from the ``viz`` extra, so no system package is needed. A ``.dot`` file name
writes the DOT text itself and needs nothing; ``.html`` writes a self-contained page where
hovering a layer shows its details.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from tapegrad.utils import graphviz
from tapegrad.utils.graphviz import dot_quote, html_label_escape

_RANKDIRS = ("TB", "LR")
_FORMATS = (*graphviz.FORMATS, "dot", "html")


class DotGraph:
    """A model's graph in the DOT language (what Keras' ``model_to_dot`` returns as a
    ``pydot.Dot``, with the same ``to_string``, ``create`` and ``write`` methods).

    Args:
        source: The DOT text.
        dpi: Resolution of raster images.
        details: Hover text per node name, for the ``html`` format.
    """

    def __init__(self, source: str, dpi: int = 200, details: dict[str, str] | None = None):
        self.source = source
        self.dpi = dpi
        self.details = dict(details or {})

    def to_string(self) -> str:
        """The DOT text."""
        return self.source

    def __str__(self) -> str:
        return self.source

    def create(self, prog: str = "dot", format: str = "png") -> bytes:  # noqa: A002
        """The image rendered by Graphviz (``format``: png, svg, pdf, ..., dot or html).

        Raises:
            RuntimeError: No Graphviz renderer is installed (the message says how to get
                one), or ``prog`` is not ``"dot"``.
            ValueError: An unknown format.
        """
        if prog != "dot":
            raise RuntimeError(f"plot_model: only Graphviz's 'dot' layout is used, not {prog!r}")
        if format == "dot":
            return self.source.encode()
        if format == "html":
            from tapegrad.utils.svg_view import html_page

            svg = graphviz.render(self.source, "svg").decode("utf-8")
            return html_page(svg, "model", self.details).encode("utf-8")
        dpi = self.dpi if format not in ("svg", "pdf", "ps") else None
        return graphviz.render(self.source, format, dpi=dpi)

    def write(self, path: str | os.PathLike[str], format: str = "png") -> None:  # noqa: A002
        """Render and write the image to ``path``."""
        data = self.create(format=format)
        with open(path, "wb") as file:
            file.write(data)

    def _repr_svg_(self) -> str | None:
        try:
            return self.create(format="svg").decode("utf-8")
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
        model: A built `Sequential` or functional `Model` (a built subclassed model is one
            box, as in Keras).
        show_shapes: Show each layer's input and output shapes.
        show_dtype: Show each layer's output dtype.
        show_layer_names: Show layer names (else class names only).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).
        expand_nested: Draw the layers of nested models inside a dashed box.
        dpi: Resolution of raster images.
        subgraph: Accepted for Keras compatibility (used by Keras internally).
        show_layer_activations: Show the activation of layers that have one.
        show_trainable: Show whether each layer with weights is trainable.
        splines: Graphviz's edge style (``"ortho"``: right angles, ``"spline"``, ...).
        **kwargs: Refused, as Keras does (``layer_range`` is no longer supported).

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
    _refuse(kwargs)
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
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}, splines={dot_quote(splines)}, "
        "concentrate=true];",
        '  node [shape=plaintext, margin=0, fontname="Helvetica"];',
        "  edge [penwidth=2];",
    ]
    details: dict[str, str] = {}
    if _is_model(model) and not _is_graph_model(model):
        _require_built(model)
        lines.append(_node_line("", model, None, None, options, "  ", details))
    else:
        _draw(model, "", lines, options, "  ", details)
    lines.append("}")
    return DotGraph("\n".join(lines) + "\n", dpi=int(dpi), details=details)


def plot_model(
    model: Any,
    to_file: str | os.PathLike[str] = "model.png",
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

    The format is the file's extension: png, svg, pdf, jpg, gif, ps (rendered by Graphviz:
    the ``dot`` program, else pygraphviz from ``pip install "tapegrad[viz]"``), ``.dot``
    (the DOT text, needs nothing) or ``.html`` (a self-contained page: hover a layer for
    its details).

    Args:
        model: A built `Sequential` or functional `Model`.
        to_file: The file to write (no extension: png).
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
        show_layer_activations, show_trainable, splines: As in `model_to_dot`
        (``show_layer_names`` defaults to False here, as in Keras 3).
        **kwargs: Refused, as Keras does.

    Returns:
        In a notebook (IPython available), an ``IPython.display.Image`` of a png, jpg or gif
        file, or an ``IPython.display.SVG``; else None, as Keras does.

    Raises:
        RuntimeError: No Graphviz renderer is installed (the message says how to get one).
        ValueError: An unknown file extension, or a model that is not built.

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
    if extension not in ("png", "jpg", "jpeg", "gif", "svg"):
        return None
    try:
        from IPython import display  # type: ignore[import-not-found]
    except ImportError:
        return None
    return display.SVG(filename=path) if extension == "svg" else display.Image(filename=path)


def _refuse(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("plot_model: the argument `layer_range` is no longer supported")
    if kwargs:
        raise ValueError(f"plot_model: unrecognized keyword arguments: {sorted(kwargs)}")


def _draw(
    model: Any,
    prefix: str,
    lines: list[str],
    options: dict[str, Any],
    indent: str,
    details: dict[str, str],
) -> None:
    """Add the nodes and edges of ``model`` (ids prefixed, for nested models)."""
    nodes = _graph_nodes(model)
    layers: list[Any] = []
    edges: list[tuple[Any, Any]] = []
    calls: dict[int, Any] = {}
    # Keras draws no InputLayer for a Sequential (nested: the outer edge reaches its first layer).
    hidden_input = _is_sequential(model)
    for node in nodes:
        for tensor in node.flat_inputs:
            source = tensor.history[0]
            if hidden_input and _is_input_layer(source):
                continue
            if source not in layers:
                layers.append(source)
            if (source, node.layer) not in edges:
                edges.append((source, node.layer))
        if node.layer not in layers:
            layers.append(node.layer)
        calls.setdefault(id(node.layer), node)
    for layer in model.layers:
        if layer not in layers and not (hidden_input and _is_input_layer(layer)):
            layers.append(layer)
    for layer in layers:
        if options["expand_nested"] and _is_graph_model(layer):
            # Graphviz boxes a subgraph whose name starts with "cluster".
            cluster = "cluster_" + re.sub(r"\W", "_", prefix + layer.name)
            lines.append(f"{indent}subgraph {cluster} {{")
            title = f"{layer.name} ({type(layer).__name__})"
            lines.append(f"{indent}  graph [label={dot_quote(title)}, labeljust=l, style=dashed];")
            _draw(layer, prefix + layer.name + "/", lines, options, indent + "  ", details)
            lines.append(f"{indent}}}")
            continue
        node = calls.get(id(layer))
        inputs = node.flat_inputs if node is not None else None
        outputs = node.outputs if node is not None else None
        lines.append(_node_line(prefix, layer, inputs, outputs, options, indent, details))
    for source, target in edges:
        tail = _edge_end(source, prefix, options, last=True)
        head = _edge_end(target, prefix, options, last=False)
        lines.append(f"{indent}{tail} -> {head};")


def _node_line(
    prefix: str,
    layer: Any,
    inputs: Any,
    outputs: Any,
    options: dict[str, Any],
    indent: str,
    details: dict[str, str],
) -> str:
    name = prefix + layer.name
    outputs = outputs if outputs is not None else _layer_output(layer)
    summary = _details(layer, inputs, outputs)
    details[name] = summary
    label = _label(layer, inputs, outputs, options)
    return f"{indent}{dot_quote(name)} [label=<{label}>, tooltip={dot_quote(summary)}];"


def _edge_end(layer: Any, prefix: str, options: dict[str, Any], last: bool) -> str:
    """The node an edge to or from ``layer`` attaches to (inside an expanded model: its
    first input or its last layer)."""
    if options["expand_nested"] and _is_graph_model(layer):
        inner = _graph_nodes(layer)
        if last:
            return _edge_end(inner[-1].layer, prefix + layer.name + "/", options, last)
        first = inner[0].layer
        if inner[0].flat_inputs and not _is_sequential(layer):  # a functional model's Input
            first = inner[0].flat_inputs[0].history[0]
        return _edge_end(first, prefix + layer.name + "/", options, last)
    return dot_quote(prefix + layer.name)


def _graph_nodes(model: Any) -> list[Any]:
    if not _is_model(model):
        return []
    nodes = getattr(model, "_graph_nodes", None)
    if nodes is None or (not nodes and model.layers):
        _require_built(model)
        raise ValueError(
            f"plot_model: model '{model.name}' is not built: its layer graph is unknown "
            "(give it an Input, or call it on data first)"
        )
    return list(nodes)


def _require_built(model: Any) -> None:
    if not getattr(model, "built", False):
        raise ValueError(
            f"plot_model: model '{model.name}' is not built: its layer graph is unknown "
            "(give it an Input, or call it on data first)"
        )


def _is_model(layer: Any) -> bool:
    from tapegrad.nn.models import Model

    return isinstance(layer, Model)


def _is_sequential(layer: Any) -> bool:
    from tapegrad.nn.models import Sequential

    return isinstance(layer, Sequential)


def _is_input_layer(layer: Any) -> bool:
    from tapegrad.nn.layers import InputLayer

    return isinstance(layer, InputLayer)


def _is_graph_model(layer: Any) -> bool:
    """A Sequential or functional model (a subclassed one has no layer graph to draw)."""
    return _is_model(layer) and bool(getattr(layer, "_graph_nodes", None))


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None or not callable(activation):
        return None
    return str(getattr(activation, "name", None) or getattr(activation, "__name__", activation))


def _shape_text(tensors: Any) -> str:
    if not tensors:
        return "?"
    shapes = [tuple(t.shape) for t in tensors]
    return str(shapes[0] if len(shapes) == 1 else shapes)


def _dtype_text(tensors: Any) -> str:
    dtypes = sorted({str(t.dtype) for t in tensors}) if tensors else ["?"]
    return ", ".join(dtypes)


def _label(layer: Any, inputs: Any, outputs: Any, options: dict[str, Any]) -> str:
    """Keras's table: the title row, then one row of the cells asked for."""
    kind = type(layer).__name__
    title = f"{layer.name} ({kind})" if options["show_layer_names"] else kind
    cells = []
    if options["show_shapes"]:
        if kind != "InputLayer":
            cells.append(("white", "black", f"Input shape: {_shape_text(inputs)}"))
        cells.append(("white", "black", f"Output shape: {_shape_text(outputs)}"))
    if options["show_dtype"]:
        cells.append(("white", "black", f"Output dtype: {_dtype_text(outputs)}"))
    if options["show_trainable"] and getattr(layer, "weights", None):
        trainable = bool(layer.trainable)
        cells.append(
            (
                "forestgreen" if trainable else "firebrick",
                "white",
                "Trainable" if trainable else "Non-trainable",
            )  # fmt: skip
        )
    span = max(1, len(cells))
    rows = [
        f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" color="white">'
        f"<b>{html_label_escape(title)}</b></font></td></tr>"
    ]
    activation = _activation_name(layer)
    if options["show_layer_activations"] and activation is not None:
        rows.append(
            f'<tr><td colspan="{span}" bgcolor="white"><font point-size="14">'
            f"Activation: <b>{html_label_escape(activation)}</b></font></td></tr>"
        )
    if cells:
        rows.append(
            "<tr>"
            + "".join(
                f'<td bgcolor="{background}"><font point-size="14" color="{color}">'
                f"{html_label_escape(text)}</font></td>"
                for background, color, text in cells
            )
            + "</tr>"
        )
    table = '<table border="0" cellborder="1" cellspacing="0" cellpadding="10">'
    return table + "".join(rows) + "</table>"


def _details(layer: Any, inputs: Any, outputs: Any) -> str:
    """The hover text of a layer: every fact, whatever the drawing shows."""
    lines = [f"layer: {layer.name}", f"class: {type(layer).__name__}"]
    activation = _activation_name(layer)
    if activation is not None:
        lines.append(f"activation: {activation}")
    if inputs:
        lines.append(f"input shape: {_shape_text(inputs)}")
    if outputs:
        lines.append(f"output shape: {_shape_text(outputs)}  dtype: {_dtype_text(outputs)}")
    weights = getattr(layer, "weights", None) or []
    if weights:
        count = sum(math.prod(tuple(w.shape)) for w in weights)
        state = "trainable" if layer.trainable else "non-trainable"
        lines.append(f"params: {count:,} ({state})")
    return "\n".join(lines)


def _layer_output(layer: Any) -> list[Any]:
    try:  # an InputLayer's tensor; a layer outside any graph has none
        output = getattr(layer, "output", None)
    except ValueError:
        return []
    if output is None:
        return []
    return list(output) if isinstance(output, list | tuple) else [output]


__all__ = ["DotGraph", "model_to_dot", "plot_model"]
