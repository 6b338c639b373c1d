"""Graphviz DOT source from a :class:`~.view.View`, and running ``dot`` on it.

Layout choices, and why:

* ``splines=ortho`` and ``concentrate`` are never used: together they make
  Graphviz 2.42/2.43 abort on MobileNetV2, DenseNet201 and EfficientNetB7 (what
  ``keras.utils.plot_model`` hits), and ``concentrate`` merges edges, so a
  reader could not count connections.
* Over :data:`BIG` boxes dot gets cheaper settings (``polyline`` edges, bounded
  network-simplex and crossing-minimisation passes); over :data:`HTML_MAX` labels
  are plain text (HTML-like labels double dot's time); over :data:`DOT_MAX` boxes
  dot's x-placement (quadratic set-up: minutes for 10,000 boxes, whatever
  ``nslimit`` says) is replaced by :mod:`.layout`, and ``neato -n2`` only draws.
* Each node, cluster and edge gets an ``id`` (``n12``, ``c3``, ``e40``) that the
  SVG keeps; the HTML viewer maps those back to layer data.

``dot`` is run as a subprocess (not through ``graphviz.pipe``, which has no
timeout) so a hung layout can be stopped, and its output goes straight to the
temporary output file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from inspector.errors import InspectorError
from inspector.render import diffstyle, overlay, style
from inspector.render.escape import HtmlLabel, dot_id, dot_string, html_label
from inspector.render.labels import (
    class_lines,
    class_text,
    cut,
    detail_lines,
    edge_label,
    esc,
    info_lines,
    node_label,
    tooltip,
)
from inspector.render.options import RenderOptions
from inspector.render.view import View, VNode
from inspector.report.summary import human

#: graphs with more boxes than this get the fast dot settings
BIG = 400
#: above this many boxes dot's quadratic x-placement takes too long: :mod:`.layout` places them
DOT_MAX = 2000
#: above this many boxes labels are plain text (HTML-like labels double dot's time)
HTML_MAX = 300
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `dnf install graphviz`, "
                "`brew install graphviz` (macOS), or `make dot`; .dot output and .html (built-in layout) "
                "work without it")


q = dot_string


def _attrs(d: dict[str, Any]) -> str:
    parts = []
    for k, v in d.items():
        if v is None:
            continue
        # only labels the renderer built as HTML-like go unquoted; any other text is quoted
        parts.append(f"{k}={v}" if isinstance(v, HtmlLabel) else f"{k}={q(v)}")
    return "[" + " ".join(parts) + "]" if parts else ""


def show_edge_shapes(view: View, opts: RenderOptions) -> bool:
    if opts.edge_shapes is not None:
        return bool(opts.edge_shapes)
    return opts.show_shapes and len(view.nodes) <= 60


def graph_attrs(view: View, opts: RenderOptions, fmt: str) -> dict[str, Any]:
    big = len(view.nodes) > BIG
    attrs: dict[str, Any] = {
        "rankdir": opts.rankdir,
        "fontname": "Helvetica",
        "labelloc": "t",
        "label": title_label(view, opts),
        "outputorder": "edgesfirst",
        "ranksep": "0.3" if big else "0.35",
        "nodesep": "0.2" if big else "0.3",
        "splines": "polyline" if big else "spline",
        "bgcolor": "white",
    }
    if big:
        # bound the expensive passes: network simplex (ranking/positions) and mincross
        attrs.update({"nslimit": "2", "nslimit1": "2", "mclimit": "0.3", "searchsize": "20", "remincross": "false"})
    if fmt == "png":
        attrs["dpi"] = str(opts.dpi or 96)
    elif opts.dpi and fmt != "svg":
        attrs["dpi"] = str(opts.dpi)
    attrs.update(opts.graph_attrs)
    return attrs


def title_text(view: View) -> str:
    t = view.totals
    parts = [f'Model "{view.name}" ({view.class_name})']
    n_calls = sum(len(n.members) or 1 for n in view.nodes.values() if n.diff != diffstyle.REMOVED)
    parts.append(f"{n_calls} layer calls")
    if t.get("params_known", True):
        parts.append(f"{t['params_total']:,} params ({t['params_trainable']:,} trainable)")
    if t.get("macs"):
        parts.append(f"{human(t['macs'])} MACs" + ("" if t.get("macs_known") else "+"))
    if view.meta.get("traced"):
        parts.append("traced")
    if view.diff:
        parts.append(f"diff vs {view.diff['against']}")
    return " · ".join(parts)


def title_label(view: View, opts: RenderOptions) -> str:
    """Graph label: title, notes and a colour legend of the families present."""
    rows = [f"<b>{esc(opts.title or title_text(view))}</b>"]
    notes = list(view.notes) + ([overlay.title_note(view)] if view.overlay else [])
    if view.collapsed:
        notes.append("collapsed: repeated blocks and name-prefix groups folded (--no-collapse draws every call)")
    if view.meta.get("hint"):
        notes.append(str(view.meta["hint"]))
    rows += [f'<font point-size="10">{esc(n)}</font>' for n in notes]
    html = "<table border=\"0\" cellspacing=\"2\" cellpadding=\"2\">"
    html += "".join(f'<tr><td colspan="20">{r}</td></tr>' for r in rows)
    if view.overlay:  # overlay colours replace family colours: the legend is their scale
        html += overlay_legend(view)
    elif view.diff:  # diff colours replace family colours, so the legend explains those
        cells = "".join(f'<td bgcolor="{fill}" border="1" color="{pen}"><font point-size="9">{esc(text)}</font></td>'
                        for fill, pen, text in diffstyle.legend(view.diff["against"]))
        legend = f'<table border="0" cellspacing="3" cellpadding="2" align="center"><tr>{cells}</tr></table>'
        html += f'<tr><td colspan="20">{legend}</td></tr>'
    elif opts.color:
        fams = list(dict.fromkeys(node_family(n) for n in view.nodes.values()))
        fams.sort(key=list(style.FAMILIES).index)
        if fams:
            cells = "".join(f'<td bgcolor="{style.fill(f)}" border="1" color="#9e9e9e">'
                            f'<font point-size="9">{esc(style.FAMILIES[f][1])}</font></td>' for f in fams)
            legend = f'<table border="0" cellspacing="3" cellpadding="2" align="center"><tr>{cells}</tr></table>'
            html += f'<tr><td colspan="20">{legend}</td></tr>'
    return html_label(html + "</table>")


def overlay_legend(view: View) -> str:
    cells = "".join(f'<td bgcolor="{fill}" border="1" color="#9e9e9e"><font point-size="9" color="{font}">'
                    f'{esc(text)}</font></td>' for fill, font, text in overlay.legend(view))
    return (f'<tr><td colspan="20"><table border="0" cellspacing="3" cellpadding="2" align="center"><tr>{cells}'
            '</tr></table></td></tr>')


def node_family(n: VNode) -> str:
    return "group" if n.members else style.family(n.attrs, n.is_output)


def node_style(n: VNode, opts: RenderOptions) -> dict[str, Any]:
    a = n.attrs
    fam = node_family(n)
    d: dict[str, Any] = {"shape": "box3d" if n.repeats > 1 else "box",
                         "style": "filled" if n.repeats > 1 else "rounded,filled",
                         "fillcolor": style.fill(fam) if opts.color else "white"}
    if n.repeats > 1:  # the 3-D box's top face would touch the bold name
        d["margin"] = "0.1,0.1"
    if (a.get("num_calls") or 1) > 1:
        d["peripheries"] = "2"
    if n.is_output or a.get("kind") == "input":
        d["penwidth"] = "1.6"
    if n.diff is not None:
        d.update(diffstyle.node_attrs(n))
    if n.overlay_style:
        d.update(n.overlay_style)
    if n.highlighted is True:
        d.update(color=style.HIGHLIGHT_PEN, penwidth="2.6")
    elif n.highlighted is False and n.diff in diffstyle.MARKS:  # faded, but the diff stays visible
        d["fontcolor"] = style.FADED_FONT
    elif n.highlighted is False:
        d.update(fillcolor=style.FADED_FILL, fontcolor=style.FADED_FONT, color="#c8c8c8")
    if a.get("failed"):
        d.update(fillcolor=style.FAILED_FILL, color=style.FAILED_PEN, penwidth="2.4")
    return d


def plain_lines(n: VNode, opts: RenderOptions) -> list[str]:
    """The label as plain lines (big graphs: HTML-like labels cost dot ~2x the layout time)."""
    a = n.attrs
    if opts.show_layer_names or n.members:
        return [cut(str(a.get("name") or n.id))] + class_lines(n) + detail_lines(n, opts) + info_lines(n, opts)
    return [cut(class_text(n))] + detail_lines(n, opts) + info_lines(n, opts)


def build_dot(view: View, opts: RenderOptions, fmt: str = "svg", engine: str | None = None) -> tuple[str, str]:
    """(DOT source, Graphviz engine to run it with), deterministic for a given view.

    Up to :data:`DOT_MAX` boxes ``dot`` lays the graph out; above, :mod:`.layout` does and
    the source carries ``pos`` attributes for ``neato -n2`` (which only draws).
    """
    if engine is None:
        engine = {"dot": "dot", "layered": "neato"}.get(opts.layout) or (
            "dot" if len(view.nodes) <= DOT_MAX else "neato")
    big = len(view.nodes) > BIG
    html = len(view.nodes) <= HTML_MAX
    labels = show_edge_shapes(view, opts)
    lay = None
    if engine == "neato":
        from inspector.render.layout import layered_layout

        sizes = {did: _estimate(plain_lines(n, opts)) for did, n in view.nodes.items()}
        gap = (70.0 if opts.rankdir in ("LR", "RL") else 40.0) if labels else 30.0
        lay = layered_layout(list(view.nodes), [(e.src, e.dst) for e in view.edges], sizes, opts.rankdir, gap)
    gattrs = graph_attrs(view, opts, fmt)
    if lay is not None:
        gattrs.update(splines="true", notranslate="true")
        for k in ("nslimit", "nslimit1", "mclimit", "searchsize", "remincross"):
            gattrs.pop(k, None)
    out = ["// Keras Graph Inspector diagram" + ("; positions precomputed: render with `neato -n2`"
                                              if lay is not None else ""),
           "digraph G {", f"graph {_attrs(gattrs)};",
           'node [fontname="Helvetica" fontsize="10" margin="0.1,0.04" color="#555555"];',
           f'edge [fontname="Helvetica" fontsize="8" color="#616161" arrowsize="0.6"'
           f'{" penwidth=0.8" if big else ""}];']
    by_cluster: dict[str | None, list[str]] = {}
    for i, (did, n) in enumerate(view.nodes.items()):
        by_cluster.setdefault(n.cluster, []).append(_node_statement(did, f"n{i}", n, opts, html, lay))
    _emit_clusters(view, by_cluster, lay, out)
    out += [_edge_statement(i, e, view, labels, lay) for i, e in enumerate(view.edges)]
    out.append("}")
    return "\n".join(out) + "\n", engine


def _node_statement(did: str, svg_id: str, n: VNode, opts: RenderOptions, html: bool, lay: Any) -> str:
    attrs = node_style(n, opts)
    attrs["id"] = svg_id
    attrs["label"] = node_label(n, opts) if html else "\n".join(plain_lines(n, opts))
    if html or n.members or n.attrs.get("failed") or n.diff in diffstyle.MARKS:
        attrs["tooltip"] = tooltip(n)
    if lay is not None:
        x, y = lay.pos[did]
        w, h = lay.size[did]
        attrs.update(pos=f"{x:.1f},{lay.height - y:.1f}!", width=f"{w / 72:.3f}", height=f"{h / 72:.3f}")
    return f"{dot_id(did)} {_attrs(attrs)};"


def _emit_clusters(view: View, by_cluster: dict[str | None, list[str]], lay: Any, out: list[str]) -> None:
    """Nested models as nested ``subgraph cluster_i`` blocks, each holding its boxes."""
    children: dict[str | None, list[str]] = {}
    for cid, c in view.clusters.items():
        children.setdefault(c.parent, []).append(cid)
    cidx = {cid: i for i, cid in enumerate(view.clusters)}

    def emit(cluster: str | None, indent: str) -> None:
        for cid in children.get(cluster, []):
            c = view.clusters[cid]
            cattrs = {"id": f"c{cidx[cid]}", "label": c.label, "style": "rounded,dashed", "color": "#78909c",
                      "fontsize": "11", "labeljust": "l", "tooltip": c.label}
            if c.diff in (diffstyle.ADDED, diffstyle.CHANGED):
                cattrs.update(color=diffstyle.COLOURS[c.diff][1], penwidth="2")
                cattrs["label"] = cattrs["tooltip"] = f"{c.label} [{c.diff}]"
            if lay is not None:
                cattrs["bb"] = _cluster_bb(view, lay, cid)
            out.append(f"{indent}subgraph {q('cluster_' + str(cidx[cid]))} {{")
            out.append(f"{indent}  graph {_attrs(cattrs)};")
            emit(cid, indent + "  ")
            out.append(f"{indent}}}")
        out.extend(indent + line for line in by_cluster.get(cluster, []))

    emit(None, "")


def _edge_statement(i: int, e: Any, view: View, labels: bool, lay: Any) -> str:
    attrs: dict[str, Any] = {"id": f"e{i}"}
    if labels:
        attrs["label"] = edge_label(e)
    if e.count > 1:
        attrs["penwidth"] = str(min(1 + 0.5 * e.count, 4))
        attrs.setdefault("label", edge_label(e))
    s, d = view.nodes[e.src], view.nodes[e.dst]
    if s.highlighted is not None:
        if s.highlighted and d.highlighted:
            attrs.update(color=style.HIGHLIGHT_PEN, penwidth="1.8")
        else:
            attrs["color"] = "#d6d6d6"
    attrs.update(diffstyle.edge_attrs(e.diff))
    if lay is not None:
        attrs["pos"] = _edge_pos(lay.routes[i], lay.height)
    return f"{dot_id(e.src)} -> {dot_id(e.dst)} {_attrs(attrs)};"


def to_dot(view: View, opts: RenderOptions, fmt: str = "svg") -> str:
    return build_dot(view, opts, fmt)[0]


def _estimate(lines: list[str]) -> tuple[float, float]:
    """Box size in points for plain 10-pt Helvetica/DejaVu lines (generous: overlap is worse than air)."""
    width = max((len(x) for x in lines), default=4) * 6.4 + 16
    return max(width, 54.0), len(lines) * 12.5 + 8


def _edge_pos(points: list[tuple[float, float]], height: float) -> str:
    """Graphviz edge ``pos``: a polyline as a piecewise cubic B-spline, arrowhead at the end."""
    pts = [(x, height - y) for x, y in points]
    (ex, ey), (px, py) = pts[-1], pts[-2]
    dx, dy = ex - px, ey - py
    norm = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    cut_len = min(6.0, norm / 2)  # leave room for the arrowhead
    pts[-1] = (ex - dx / norm * cut_len, ey - dy / norm * cut_len)
    ctrl = [pts[0]]
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        ctrl += [(ax + (bx - ax) / 3, ay + (by - ay) / 3), (ax + 2 * (bx - ax) / 3, ay + 2 * (by - ay) / 3), (bx, by)]
    return f"e,{ex:.1f},{ey:.1f} " + " ".join(f"{x:.1f},{y:.1f}" for x, y in ctrl)


def _cluster_bb(view: View, lay: Any, cid: str) -> str:
    boxes = [(lay.pos[d], lay.size[d]) for d, n in view.nodes.items()
             if n.cluster == cid or (n.cluster or "").startswith(cid + "/")]
    if not boxes:
        return "0,0,0,0"
    x0 = min(x - w / 2 for (x, _), (w, _) in boxes) - 8
    x1 = max(x + w / 2 for (x, _), (w, _) in boxes) + 8
    y0 = min(y - h / 2 for (_, y), (_, h) in boxes) - 20
    y1 = max(y + h / 2 for (_, y), (_, h) in boxes) + 8
    return f"{x0:.1f},{lay.height - y1:.1f},{x1:.1f},{lay.height - y0:.1f}"


# --------------------------------------------------------------------------- running dot
def dot_binary() -> str | None:
    """Path of Graphviz's ``dot`` (``INSPECTOR_DOT`` overrides the PATH search)."""
    override = os.environ.get("INSPECTOR_DOT")
    if override is not None:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return shutil.which("dot")


def require_dot() -> str:
    exe = dot_binary()
    if exe is None:
        raise InspectorError("Graphviz's `dot` program was not found; " + INSTALL_HINT)
    return exe


#: attributes for a second attempt when dot fails: straight edges avoid its spline-router crashes
SAFE_RETRY = {"splines": "line", "newrank": "true"}


def run_dot(source: str, fmt: str, out_path: str, timeout: float | None = None, engine: str = "dot") -> list[str]:
    """Lay out ``source`` and write ``fmt`` to ``out_path``; retry once with safer settings.

    ``engine="neato"`` runs ``dot -Kneato -n2``: positions and edge routes are already in
    the source, Graphviz only draws them. Returns warnings the user must see (see
    :func:`scaled_warning`)."""
    exe = require_dot()
    if engine == "neato":
        attempts = [["-Kneato", "-n2"]]
    else:
        attempts = [[], [f"-G{k}={v}" for k, v in SAFE_RETRY.items()]]
    last = ""
    for extra in attempts:
        try:
            proc = subprocess.run([exe, f"-T{fmt}", *extra, "-o", out_path], input=source.encode("utf-8"),
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise InspectorError(f"Graphviz did not finish within {timeout:g} s; try --collapse or "
                                 "--layer-range to draw fewer boxes") from None
        except OSError as e:
            raise InspectorError(f"cannot run Graphviz's dot ({e}); " + INSTALL_HINT) from None
        if proc.returncode == 0 and os.path.getsize(out_path) > 0:
            return scaled_warning(proc.stderr.decode("utf-8", "replace"), fmt)
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = last[-1] if last else f"exit status {proc.returncode}"
    raise InspectorError(f"Graphviz failed to draw the diagram: {last}")


def scaled_warning(stderr: str, fmt: str) -> list[str]:
    """Graphviz silently shrinks bitmaps over 32,767 px ("Scaling by 0.08 to fit"): a 3,000-layer
    PNG came out 89 px wide with unreadable text, so say so and what to use instead."""
    import re

    m = re.search(r"[Ss]caling by ([0-9.]+)", stderr)
    if not m:
        return []
    pct = float(m.group(1)) * 100
    return [f"the {fmt.upper()} is too large for a bitmap (Graphviz's limit is 32,767 px a side) and was "
            f"shrunk to {pct:.0f}%, so its text may be unreadable; draw .svg, .pdf or .html, or fewer boxes "
            "with --collapse or --layer-range"]
