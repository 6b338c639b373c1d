"""SVG without Graphviz: the :mod:`.layout` positions drawn directly.

Used for the HTML viewer when ``dot`` is not installed, so ``inspector render
model.keras -o model.html`` still gives a usable, searchable diagram. The
markup mirrors Graphviz's (``<g class="node" id="n3"><title>…``,
``<g class="edge">``), so the viewer's JavaScript and any SVG test treat both
the same.
"""
from __future__ import annotations

from inspector.render.diffstyle import COLOURS, MARKS, REMOVED, edge_attrs, legend, node_attrs
from inspector.render.dot import _estimate, node_family, plain_lines
from inspector.render.escape import xml_text
from inspector.render.layout import layered_layout
from inspector.render.options import RenderOptions
from inspector.render.style import FADED_FILL, FAILED_FILL, FAILED_PEN, HIGHLIGHT_PEN, fill
from inspector.render.view import View

TITLE_H = 40.0
LEGEND_H = 22.0


_x = xml_text


def fallback_svg(view: View, opts: RenderOptions) -> str:
    from inspector.render.dot import title_text

    lines = {did: plain_lines(n, opts) for did, n in view.nodes.items()}
    sizes = {did: _estimate(ls) for did, ls in lines.items()}
    lay = layered_layout(list(view.nodes), [(e.src, e.dst) for e in view.edges], sizes, opts.rankdir)
    head = TITLE_H + (LEGEND_H if view.diff else 0.0)
    width, height = max(lay.width, 400.0), lay.height + head
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt" '
           f'viewBox="0 0 {width:.1f} {height:.1f}">',
           '<defs><marker id="kgi-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#616161"/></marker></defs>',
           f'<g id="graph0" class="graph" transform="translate(0 {head})">',
           f"<title>{_x(view.name)}</title>",
           f'<text x="{width / 2:.1f}" y="{-head + TITLE_H / 2:.1f}" text-anchor="middle" '
           f'font-family="Helvetica,sans-serif" font-size="14" font-weight="bold">'
           f'{_x(opts.title or title_text(view))}</text>']
    if view.diff:
        out += _legend(view, -head + TITLE_H)
    for i, e in enumerate(view.edges):
        pts = " L".join(f"{x:.1f},{y:.1f}" for x, y in lay.routes[i])
        ea = edge_attrs(e.diff)
        dash = ' stroke-dasharray="5,2"' if ea.get("style") == "dashed" else ""
        out.append(f'<g id="e{i}" class="edge"><title>{_x(e.src)}&#45;&gt;{_x(e.dst)}</title>'
                   f'<path fill="none" stroke="{ea.get("color", "#616161")}" stroke-width="{ea.get("penwidth", 1)}"'
                   f'{dash} d="M{pts}" marker-end="url(#kgi-arrow)"/></g>')
    for i, (did, n) in enumerate(view.nodes.items()):
        (cx, cy), (w, h) = lay.pos[did], lay.size[did]
        colour = fill(node_family(n)) if opts.color else "white"
        stroke, pen, dash = "#555555", 1.0, ""
        if n.diff is not None:
            da = node_attrs(n)
            colour, stroke, pen = da["fillcolor"], da["color"], float(da.get("penwidth", 1.0))
            dash = ' stroke-dasharray="5,2"' if n.diff == REMOVED else ""
        if n.highlighted is False and n.diff in MARKS:
            pass  # faded by the highlight, but the diff colours stay
        elif n.highlighted is False:
            colour = FADED_FILL
        elif n.highlighted:
            stroke, pen = HIGHLIGHT_PEN, 2.6
        if n.attrs.get("failed"):
            colour, stroke, pen = FAILED_FILL, FAILED_PEN, 2.4
        out.append(f'<g id="n{i}" class="node"><title>{_x(did)}</title>'
                   f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" '
                   f'fill="{colour}" stroke="{stroke}" stroke-width="{pen}"{dash}/>')
        top = cy - h / 2 + 4 + 10
        for k, line in enumerate(lines[did]):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{cx:.1f}" y="{top + 12.5 * k:.1f}" text-anchor="middle" '
                       f'font-family="Helvetica,sans-serif" font-size="10"{weight}>{_x(line)}</text>')
        out.append("</g>")
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _legend(view: View, y: float) -> list[str]:
    """The --diff legend under the title: a swatch and a word per status."""
    out, x = [], 12.0
    for fill_, pen, text in legend(str((view.diff or {}).get("against"))):
        dash = ' stroke-dasharray="4,2"' if pen == COLOURS[REMOVED][1] else ""
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{fill_}" stroke="{pen}"{dash}/>')
        out.append(f'<text x="{x + 16:.1f}" y="{y + 10:.1f}" font-family="Helvetica,sans-serif" '
                   f'font-size="10">{_x(text)}</text>')
        x += 16 + 6.0 * len(text) + 14
    return out
