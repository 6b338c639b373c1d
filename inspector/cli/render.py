"""`inspector render MODEL -o OUT`: diagrams (SVG, PNG, PDF, DOT) and the interactive HTML viewer."""
from __future__ import annotations

from typing import Any

import click

from inspector.cli.common import model_options, open_graph

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class UpperChoice(click.Choice):
    """A case-insensitive choice shown (in --help and errors) and returned in upper case: TB, LR, ..."""

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        return super().normalize_choice(choice, ctx).upper()


@click.command(context_settings=CONTEXT)
@model_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output file; the format comes from the suffix: .svg .png .pdf .dot .html")
@click.option("--shapes/--no-shapes", default=True, show_default=True, help="Input and output shapes in each box.")
@click.option("--dtypes", is_flag=True, help="Output dtypes in each box.")
@click.option("--names/--no-names", default=True, show_default=True, help="Layer names (else classes only).")
@click.option("--activations", is_flag=True, help="Activation functions in each box.")
@click.option("--trainable", is_flag=True, help="Whether each layer is trainable.")
@click.option("--params/--no-params", default=True, show_default=True, help="Parameter count per layer.")
@click.option("--macs", is_flag=True, help="Multiply-accumulates per sample, per layer call.")
@click.option("--all-info", is_flag=True, help="Everything: shapes, dtypes, activations, trainable, params, MACs.")
@click.option("--edge-shapes/--no-edge-shapes", default=None,
              help="Label every edge with its tensor shape [default: only for graphs of up to 60 boxes].")
@click.option("--rankdir", type=UpperChoice(["TB", "LR", "BT", "RL"]), default="TB",
              show_default=True, help="Direction of the flow: top-bottom, left-right, ...")
@click.option("--dpi", type=click.IntRange(1, 2400), default=None, help="Resolution of PNG output [default: 96].")
@click.option("--expand-nested", is_flag=True, help="Draw nested models (and traced sub-layers) as clusters.")
@click.option("--depth", type=click.IntRange(0), default=None,
              help="With --expand-nested: how many levels to expand [default: all].")
@click.option("--layer-range", metavar="FIRST:LAST",
              help="Only the layer calls from FIRST to LAST (inclusive, model order); with --expand-nested "
                   "either may be a layer inside a nested model (NAME or path backbone/NAME).")
@click.option("--highlight", multiple=True, metavar="LAYER",
              help="Mark LAYER and everything it depends on (what a feature extractor at LAYER computes); "
                   "NAME:K for call K of a shared layer; with --expand-nested a layer inside a nested model "
                   "(NAME or path backbone/NAME); repeatable.")
@click.option("--collapse/--no-collapse", default=None,
              help="Fold name-prefix groups (conv2_block1_*) and repeated blocks (the same layers, hyper-parameters "
                   "and wiring between two merge points, whatever their names) into one box \"×k\" with per-block "
                   "params and MACs [default: fold when the diagram has over 60 boxes].")
@click.option("--details", type=click.Choice(["none", "key", "all"]), default="key", show_default=True,
              help="Hyper-parameters in each box: key = what tells it apart (\"64, 3×3 /2\", \"k11 d4\", units, heads, "
                   "rate, activation), all = every config field not at Keras's default, none.")
@click.option("--collapse-min", type=click.IntRange(2), default=4, show_default=True,
              help="With --collapse: the fewest layer calls a name-prefix group needs to become a box "
                   "(numbered blocks the model repeats, blk1_* blk2_* ..., fold whatever their size).")
@click.option("--no-color", is_flag=True, help="White boxes instead of colours by layer family.")
@click.option("--layout", type=click.Choice(["auto", "dot", "layered"]), default="auto", show_default=True,
              help="Who places the boxes: Graphviz dot (best for up to ~2,000 boxes), the built-in layered "
                   "layout (linear time, drawn by Graphviz), or auto.")
@click.option("--diff", "diff_against", metavar="OTHER", default=None,
              help="Colour the diagram by the structural diff against model OTHER (a file or Python spec, "
                   "like MODEL): green = added (not in OTHER), amber = changed (class, config, shapes, "
                   "params), dashed red ghosts = removed (only in OTHER); connections likewise.")
@click.option("--overlay", "overlay_path", metavar="FILE|DIR", default=None,
              type=click.Path(exists=True, path_type=str),
              help="Colour the boxes by per-layer numbers: a stats file (`inspector stats`), a compare "
                   "file (`inspector compare A MODEL`) or the training callback's directory of epoch files "
                   "(the HTML page then has an epoch slider); the legend gives the scale.")
@click.option("--by", "overlay_by", default=None, metavar="STAT",
              help="With --overlay: the number to colour by: std (default), max, min, mean, abs_mean, "
                   "zero_fraction, dead_fraction, nan, inf for stats; rel_l2 (default), max_abs, cosine for "
                   "compare files.")
@click.option("--title", default=None, help="Diagram title [default: model name, size, parameters, MACs].")
@click.option("--show-ops", is_flag=True,
              help="Draw the shape-computation ops of a traced model (Shape, StridedSlice, Pack of shapes, "
                   "Identity ...), hidden by default.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds before giving up on Graphviz.")
def render(model: str, output: str, shapes: bool, dtypes: bool, names: bool, activations: bool, trainable: bool,
           params: bool, macs: bool, all_info: bool, edge_shapes: bool | None, rankdir: str, dpi: int | None,
           expand_nested: bool, depth: int | None, layer_range: str | None, highlight: tuple[str, ...],
           collapse: bool | None, collapse_min: int, no_color: bool, layout: str, diff_against: str | None,
           title: str | None, timeout: float, **opts: Any) -> None:
    """Draw MODEL as an annotated diagram: SVG, PNG, PDF, DOT or a self-contained HTML viewer.

    Boxes are layer calls coloured by family (convolution, dense, normalization,
    activation, merge, input/output, ...); a layer called twice is two boxes
    marked "shared ×2, call 1/2", so the drawing stays acyclic. The HTML page
    needs no network: pan and zoom, search a layer by name or class, click a box
    for its config, shapes, parameters and weight shapes.

    A diagram of more than 60 boxes is folded unless --no-collapse: each run of
    repeated blocks becomes one "×k" box (found by structure, so a residual net
    with Keras's default names folds too) and name-prefix groups one box each.

    With --diff OTHER the boxes are coloured by what changed since OTHER, as
    `inspector diff OTHER MODEL` reports it (layer calls matched by name): added,
    changed, unchanged (muted), and OTHER's removed layers drawn as dashed red
    ghosts beside their old neighbours; a legend explains the colours and the
    title says "diff vs OTHER". Combines with every format and with --collapse
    (new blocks fold apart from old ones), --highlight and --layer-range.

    Needs Graphviz's `dot` (apt-get install graphviz) for .svg/.png/.pdf; .dot
    and .html work without it. The output is written atomically and never over
    the input model.

    \b
    Examples:
      inspector render model.keras -o model.svg
      inspector render model.keras -o model.html --all-info
      inspector render resnet50.keras -o r.png --collapse --rankdir LR
      inspector render model.keras -o f.svg --highlight conv4_block6_out
      inspector render model.keras -o part.pdf --layer-range conv2_block1_1_conv:conv2_block1_out
      inspector render with_head.keras -o changes.svg --diff model.keras
    """
    from inspector.atomic import check_not_input, check_writable
    from inspector.errors import InspectorError
    from inspector.render import RenderOptions, build_view, format_of, render_to

    overlay_path, overlay_by = opts.pop("overlay_path", None), opts.pop("overlay_by", None)
    fmt = format_of(output)
    check_not_input(output, model, *[p for p in (diff_against, overlay_path) if p])
    if layer_range is not None and ":" not in layer_range:
        raise InspectorError(f"--layer-range {layer_range!r}: use FIRST:LAST (either side may be empty)", model)
    check_writable(output)
    if all_info:
        shapes = dtypes = activations = trainable = params = macs = True
    options = RenderOptions.from_kwargs(
        show_shapes=shapes, show_dtype=dtypes, show_layer_names=names, show_layer_activations=activations,
        show_trainable=trainable, show_params=params, show_macs=macs, edge_shapes=edge_shapes,
        rankdir=rankdir.upper(), dpi=dpi, expand_nested=expand_nested or depth is not None, depth=depth,
        layer_range=layer_range, highlight=highlight, collapse=collapse, collapse_min=collapse_min,
        color=not no_color, layout=layout, title=title, timeout=timeout, details=opts.pop("details", "key"))
    show_ops = opts.pop("show_ops", False)
    g = open_graph(model, **opts)
    if not show_ops:
        from inspector.graph.plumbing import hide_plumbing

        g = hide_plumbing(g)
    if overlay_path is not None:
        from inspector.numerics.overlay import load_overlay

        options.overlay = load_overlay(overlay_path, g, overlay_by)
    elif overlay_by is not None:
        raise InspectorError("--by needs --overlay FILE", model)
    if diff_against is not None:
        options.diff = _open_other(diff_against, opts)
    _note_no_graph(g, model, options.expand_nested)
    try:
        view = build_view(g, options)
    except InspectorError as e:   # --highlight / --layer-range names: the model is the file at fault
        e.path = e.path or model
        raise
    _report(output, fmt, render_to(view, options, output, fmt))


def _note_no_graph(g: Any, model: str, expand_nested: bool) -> None:
    """One stderr note when the file holds no layer graph: what is drawn instead."""
    if g.meta.get("weights_only"):
        from inspector.readers.weight_tree import WEIGHTS_ONLY

        click.echo(f"note: {model}: {WEIGHTS_ONLY}; drawing its weight tree", err=True)
    elif g.meta.get("opaque"):
        tree = any(a.get("subgraph") for _, a in g.nodes())
        how = ("drawing its weight tree as nested blocks (no data flow)" if tree and expand_nested else
               "drawing the model as one box" + (" (--expand-nested draws its weight tree)" if tree else ""))
        click.echo(f"note: {model}: {g.meta.get('hint') or 'no layer graph in this file'}; {how}", err=True)


def _report(output: str, fmt: str, info: dict[str, Any]) -> None:
    """The one "wrote ..." line (boxes, edges, layout) and any warnings of the renderer."""
    how = f", {info['layout']} layout" if info.get("layout") else ""
    boxes, edges = info["nodes"], info["edges"]
    click.echo(f"wrote {output} ({fmt}, {boxes} box{'es' if boxes != 1 else ''}, "
               f"{edges} edge{'s' if edges != 1 else ''}{how})", err=True)
    for warning in info.get("warnings") or []:
        click.echo(f"warning: {output}: {warning}", err=True)


def _open_other(other: str, opts: dict[str, Any]) -> Any:
    """OTHER as MODEL was opened (--load/--unsafe carry over to a file); errors name OTHER."""
    from inspector.errors import InspectorError
    from inspector.readers.live.specs import is_python_spec
    from inspector.render.diffstyle import about_other

    load = bool(opts.get("load")) and not is_python_spec(other)
    try:
        return open_graph(other, load=load, unsafe=bool(opts.get("unsafe")) and load,
                          allow_code=bool(opts.get("allow_code")))
    except InspectorError as e:
        raise about_other(e, other) from None


COMMANDS = [render]
