"""The self-contained HTML viewer: one file, no network, the diagram inline.

The page is the SVG that Graphviz (or :mod:`.fallback`) drew, a JSON blob with
each box's facts keyed by the box's SVG ``id`` (``n12``), and vanilla JS/CSS
from :mod:`.viewer` (pan, zoom, search by name or class, click for the full
config, shapes, parameters and weight shapes). Nothing is fetched, so the file
can be mailed, archived or opened offline, and it shows the same diagram the
SVG does.

It opens at a readable scale at the model's inputs, with a minimap and ``fit``
(:mod:`.viewer_nav`). Nested models fold and unfold in place, and folded boxes
open in place, without re-running the tool (:mod:`.viewer_blocks` says how):
for that the blob also carries each box's cluster, the clusters (SVG id ``c3``
-> label, parent, layer count) and the edges (``e40`` -> its two boxes).
"""
from __future__ import annotations

import json
import re
from typing import Any

from inspector.render.diffstyle import MARKS, changes_text
from inspector.render.escape import xml_text
from inspector.render.labels import details, params_of, shared_text
from inspector.render.options import RenderOptions
from inspector.render.overlay_data import overlay_data
from inspector.render.style import FAMILIES
from inspector.render.view import View
from inspector.render.viewer import CSS, JS
from inspector.report.summary import fmt_shapes


def node_data(view: View) -> dict[str, Any]:
    """Facts per box, keyed by the box's SVG id, for the side panel and the search."""
    from inspector.render.dot import node_family

    svg_id = {did: f"n{i}" for i, did in enumerate(view.nodes)}
    cluster_id = cluster_ids(view)
    ins: dict[str, list[str]] = {d: [] for d in view.nodes}
    outs: dict[str, list[str]] = {d: [] for d in view.nodes}
    for e in view.edges:
        ins[e.dst].append(svg_id[e.src])
        outs[e.src].append(svg_id[e.dst])
    first_call = {(n.cluster, n.attrs.get("name")): n for n in view.nodes.values()
                  if (n.attrs.get("call_index") or 0) == 0}
    data = {}
    for did, n in view.nodes.items():
        a = n.attrs
        owner = first_call.get((n.cluster, a.get("name")), n) if (a.get("call_index") or 0) > 0 else n
        fam = node_family(n)
        data[svg_id[did]] = {
            "id": did,
            "name": a.get("name") or did,
            "class_name": a.get("class_name"),
            "kind": a.get("kind"),
            "family": FAMILIES.get(fam, FAMILIES["other"])[1],
            "module": a.get("module"),
            "input_shapes": fmt_shapes(a.get("input_shapes")) if a.get("input_shapes") else None,
            "output_shapes": fmt_shapes(a.get("output_shapes")),
            "output_dtypes": a.get("output_dtypes"),
            "activation": a.get("activation"),
            "quantization": a.get("quantization"),
            "lora_rank": a.get("lora_rank"),
            "dtype_policy": a.get("dtype_policy"),
            "trainable": a.get("trainable"),
            "params": params_of(owner.attrs),
            "params_trainable": owner.attrs.get("params_trainable"),
            "params_non_trainable": owner.attrs.get("params_non_trainable"),
            "macs": a.get("macs"),
            "weights": owner.attrs.get("weights") or [],
            "shared": shared_text(a),
            "output": n.is_output,
            "error": a.get("error") if a.get("failed") else None,
            "cluster": cluster_id.get(n.cluster),
            "inputs": ins[did],
            "outputs": outs[did],
            "members": _members(a) if n.members else None,
            "repeats": n.repeats,
            "config": a.get("config"),
            "details": details(n, "key"),
            "details_all": details(n, "all"),
            "diff": n.diff if n.diff in MARKS else None,
            "diff_changes": changes_text(n.diff_info) if n.diff in MARKS else [],
        }
    return data


def cluster_ids(view: View) -> dict[str | None, str]:
    """Display id of each nested model -> the SVG id :mod:`.dot` gives its frame (``c3``)."""
    return {cid: f"c{i}" for i, cid in enumerate(view.clusters)}


def cluster_data(view: View) -> dict[str, Any]:
    """Per cluster (by SVG id): its label, parent cluster and how many layer calls it holds,
    counting nested clusters and the calls folded into collapsed boxes, for its summary box."""
    ids = cluster_ids(view)
    layers = dict.fromkeys(view.clusters, 0)
    for n in view.nodes.values():
        c = n.cluster
        while c is not None:
            layers[c] += len(n.members) or 1
            c = view.clusters[c].parent
    return {ids[cid]: {"label": c.label, "parent": ids.get(c.parent), "layers": layers[cid]}
            for cid, c in view.clusters.items()}


def edge_ends(view: View) -> list[list[str]]:
    """Each edge's two boxes by SVG id, in edge order (the edge's own id is ``e<index>``)."""
    svg_id = {did: f"n{i}" for i, did in enumerate(view.nodes)}
    return [[svg_id[e.src], svg_id[e.dst]] for e in view.edges]


def _members(a: dict[str, Any]) -> list[dict[str, Any]]:
    """A collapsed box's layer calls with shapes as the boxes print them: ``(None, 6, 6, 384)``."""
    return [{**m, "output_shapes": fmt_shapes(m.get("output_shapes"))} for m in a.get("members") or []]


def strip_svg_prolog(svg: str) -> str:
    """The ``<svg>`` element alone (no XML declaration, DOCTYPE or comments before it)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<' at all (so no '</script', '<!--' or '<script'
    can change how the HTML parser reads the element), no U+2028/9 surprises."""
    text = json.dumps(obj, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def html_page(view: View, opts: RenderOptions, svg: str) -> str:
    from inspector.render.dot import title_text

    title = opts.title or title_text(view)
    payload = {"title": title, "notes": view.notes, "nodes": node_data(view), "diff": view.diff,
               "clusters": cluster_data(view), "edges": edge_ends(view), "overlay": overlay_data(view),
               "meta": {k: v for k, v in view.meta.items() if isinstance(v, (str, int, float, bool))}}
    svg = strip_svg_prolog(svg)
    svg = re.sub(r"<svg\b", '<svg id="kgi-svg"', svg, count=1)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Keras Graph Inspector">
<title>{_esc(view.name)} — Keras Graph Inspector</title>
<style>{CSS}</style>
</head>
<body>
<header>
  <input id="kgi-search" type="search" placeholder="Find a layer by name or class…" autocomplete="off"
         aria-label="Find a layer by name or class">
  <button id="kgi-fit" title="Fit the whole diagram">fit</button>
  <button id="kgi-in" title="Zoom in">+</button>
  <button id="kgi-out" title="Zoom out">−</button>
  <span id="kgi-title">{_esc(title)}</span>
  <ul id="kgi-results" hidden></ul>
</header>
<main>
  <div id="kgi-canvas">{svg}<svg id="kgi-mini" role="img" aria-label="Overview of the whole graph"></svg></div>
  <aside id="kgi-panel"><p class="kgi-hint">Click a box (or search) to see its configuration, shapes,
  parameters and weight shapes. Drag to pan, wheel to zoom, <kbd>f</kbd> to fit; click or drag in the
  overview to move. Click a nested model's title or a folded box to fold or open it in place.</p></aside>
</main>
<script type="application/json" id="kgi-data">{_script_json(payload)}</script>
<script>{JS}</script>
</body>
</html>
"""


_esc = xml_text


__all__ = ["html_page", "node_data"]
