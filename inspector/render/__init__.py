"""Diagrams of a ModelGraph: SVG, PNG, PDF, DOT and a self-contained HTML viewer.

>>> import inspector
>>> inspector.render("model.keras", "model.svg", show_dtype=True, collapse=True)

Works on the :class:`~inspector.graph.model_graph.ModelGraph` only: nothing here imports
TensorFlow or Keras, so drawing a saved model never loads it.
"""
from __future__ import annotations

import os
import sys
import types
from typing import Any

from inspector.atomic import atomic_path, check_not_input
from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.render.build import build_view
from inspector.render.options import RenderOptions
from inspector.render.view import View

FORMATS = ("svg", "png", "pdf", "dot", "html")

__all__ = ["render", "render_to", "to_dot", "to_svg", "to_graphviz", "notebook_svg", "RenderOptions", "FORMATS", "View",
           "build_view", "format_of"]


def format_of(out: str) -> str:
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    if ext == "gv":
        ext = "dot"
    if ext == "htm":
        ext = "html"
    if ext not in FORMATS:
        raise InspectorError(f"unknown diagram format {ext or '(no suffix)'!r}; use one of "
                             + ", ".join("." + f for f in FORMATS), out)
    return ext


def _graph(source: Any) -> ModelGraph:
    if isinstance(source, ModelGraph):
        return source
    from inspector.readers.source import read

    return read(source)


def to_dot(source: Any, fmt: str = "svg", **options: Any) -> str:
    """DOT source of the diagram (no Graphviz needed)."""
    from inspector.render.dot import to_dot as _to_dot

    opts = RenderOptions.from_kwargs(**options)
    return _to_dot(build_view(_graph(source), opts), opts, fmt)


def to_graphviz(source: Any, fmt: str = "svg", **options: Any) -> Any:
    """The diagram as a :class:`graphviz.Source`, for code already written against the
    ``graphviz`` package: it shows itself in Jupyter, and ``.render()``, ``.pipe()``,
    ``.view()`` and ``.save()`` work as usual.

    Its ``engine`` is what this diagram needs: ``dot``, or ``neato`` (run as ``-n2``) for
    graphs too big for dot's placement, whose positions are in the source. Note that
    ``graphviz.Source.pipe`` has no timeout; :func:`render` bounds the layout time.
    """
    import graphviz

    from inspector.render.dot import build_dot

    opts = RenderOptions.from_kwargs(**options)
    text, engine = build_dot(build_view(_graph(source), opts), opts, fmt)
    if engine != "neato":
        return graphviz.Source(text, engine=engine, format=fmt)

    class PositionedSource(graphviz.Source):
        """Drawn with ``neato -n2``: at the positions in the source, which took our layout."""

        def pipe(self, *args: Any, neato_no_op: Any = 2, **kwargs: Any) -> Any:
            return super().pipe(*args, neato_no_op=neato_no_op, **kwargs)

        def render(self, *args: Any, neato_no_op: Any = 2, **kwargs: Any) -> Any:
            return super().render(*args, neato_no_op=neato_no_op, **kwargs)

    return PositionedSource(text, engine=engine, format=fmt)


def to_svg(source: Any, **options: Any) -> str:
    """The diagram as SVG text (needs Graphviz's ``dot``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="inspector-") as d:
        path = os.path.join(d, "diagram.svg")
        render(source, path, **options)
        with open(path, encoding="utf-8") as f:
            return f.read()


def render(source: Any, out: str, **options: Any) -> dict[str, Any]:
    """Draw ``source`` (a ModelGraph or a model file path) to ``out``; format from its suffix.

    Keywords are :class:`RenderOptions` fields (plot_model's names work:
    ``show_shapes``, ``show_dtype``, ``show_layer_names``, ``show_layer_activations``,
    ``show_trainable``, ``rankdir``, ``dpi``, ``expand_nested``, ``layer_range``) plus
    ``show_params``, ``show_macs``, ``edge_shapes``, ``depth``, ``highlight``, ``collapse``, and
    ``diff`` (another ModelGraph, model file or live model: boxes are coloured by the structural
    diff against it, its removed layers drawn as dashed ghosts; see :mod:`.diffstyle`).
    The file is written atomically; neither input model is ever overwritten.
    Returns facts about what was drawn: format, nodes, edges, layout engine, and
    ``warnings`` (e.g. a PNG too big for a bitmap, shrunk by Graphviz).
    """
    out = os.fspath(out)
    fmt = format_of(out)
    opts = RenderOptions.from_kwargs(**options)
    inputs = [s for s in (source, opts.diff) if isinstance(s, (str, os.PathLike))]
    check_not_input(out, *map(os.fspath, inputs))
    g = _graph(source)
    view = build_view(g, opts)
    info = render_to(view, opts, out, fmt)
    if info.get("warnings"):
        import warnings

        for w in info["warnings"]:
            warnings.warn(w, stacklevel=2)
    return info


def render_to(view: View, opts: RenderOptions, out: str, fmt: str) -> dict[str, Any]:
    """Write an already-built view (the CLI builds it once for its summary line)."""
    from inspector.render import dot

    info = {"format": fmt, "nodes": len(view.nodes), "edges": len(view.edges), "layout": "graphviz"}
    if fmt == "dot":
        with atomic_path(out) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(dot.to_dot(view, opts, "svg"))
        info["layout"] = None
        return info
    if fmt == "html":
        from inspector.render.html import html_page

        svg, info["layout"] = _svg_for_html(view, opts)
        with atomic_path(out) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(html_page(view, opts, svg))
        return info
    source, engine = dot.build_dot(view, opts, fmt)
    info["layout"] = "graphviz" if engine == "dot" else "layered (drawn by graphviz)"
    with atomic_path(out) as tmp:
        info["warnings"] = dot.run_dot(source, fmt, tmp, opts.timeout, engine)
    return info


def _svg_for_html(view: View, opts: RenderOptions) -> tuple[str, str]:
    """SVG from Graphviz, or from the built-in layered layout when ``dot`` is not installed."""
    import tempfile

    from inspector.render import dot

    if dot.dot_binary() is None:
        from inspector.render.fallback import fallback_svg

        view.notes.append("laid out without Graphviz (not installed): " + dot.INSTALL_HINT.split(";")[0])
        return fallback_svg(view, opts), "builtin"
    source, engine = dot.build_dot(view, opts, "svg")
    with tempfile.TemporaryDirectory(prefix="inspector-") as d:
        path = os.path.join(d, "diagram.svg")
        dot.run_dot(source, "svg", path, opts.timeout, engine)
        with open(path, encoding="utf-8") as f:
            return f.read(), "graphviz" if engine == "dot" else "layered (drawn by graphviz)"


def notebook_svg(g: ModelGraph) -> str | None:
    """SVG for ``ModelGraph._repr_svg_`` (Jupyter). Graphs of more than 400 layer calls are
    drawn collapsed so the cell stays readable; without Graphviz: a warning and None
    (Jupyter then shows the plain repr)."""
    import warnings

    try:
        return to_svg(g, collapse=len(g) > 400)
    except InspectorError as e:
        warnings.warn(f"cannot draw the model: {e}", stacklevel=2)
        return None


class _CallableModule(types.ModuleType):
    """``inspector.render`` is both this package and the function ``inspector.render(source, out)``.

    Importing the package makes Python replace the parent's ``render`` attribute (the
    lazy function) with this module, so the module itself is made callable."""

    def __call__(self, source: Any, out: str, **options: Any) -> dict[str, Any]:
        return render(source, out, **options)


sys.modules[__name__].__class__ = _CallableModule
