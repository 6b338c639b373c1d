"""`inspector render MODEL --diff OTHER` / `inspector.render(..., diff=OTHER)` against Keras itself.

Which boxes must be marked added, removed or changed comes from the Keras models
(``layer.name`` sets, ``get_config()``, the inbound node of the new head), never
from our own differ's output. SVGs are parsed as XML; a box "carries" a status
when its outline/fill use that status's colours (and dashes, for removed ghosts).
"""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import run_cli, user_lines
from test_render import SVG, needs_dot, parse_svg, svg_nodes, text_of

import inspector
from inspector.errors import InspectorError
from inspector.render.diffstyle import ADDED, CHANGED, COLOURS, REMOVED
from tests.models.keras_truth import save_units_pair


# --------------------------------------------------------------------------- helpers
def svg_edges(root: ET.Element) -> dict[tuple[str, str], list[ET.Element]]:
    out: dict[tuple[str, str], list[ET.Element]] = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            src, dst = g.find(f"{SVG}title").text.split("->")
            out.setdefault((src, dst), []).append(g)
    return out


def outlines(g: ET.Element) -> list[ET.Element]:
    """The box (or edge line) drawing elements of one node/edge group, wherever Graphviz nests them."""
    return [e for e in g.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}rect")]


def carries(g: ET.Element, status: str) -> bool:
    fill, pen = COLOURS[status]
    shapes = outlines(g)
    if status == REMOVED:
        return any(e.get("stroke") == pen and e.get("stroke-dasharray") for e in shapes)
    return any(e.get("fill") == fill for e in shapes) and any(e.get("stroke") == pen for e in shapes)


def edge_carries(g: ET.Element, status: str) -> bool:
    pen = COLOURS[status][1]
    lines = [e for e in g.iter(f"{SVG}path")]
    if status == REMOVED:
        return any(e.get("stroke") == pen and e.get("stroke-dasharray") for e in lines)
    return any(e.get("stroke") == pen for e in lines)


def marked(root: ET.Element, status: str) -> set[str]:
    return {nid for nid, g in svg_nodes(root).items() if carries(g, status)}


def head_source(model, name: str) -> str:
    """Name of the layer whose output feeds layer ``name`` (from Keras's own node)."""
    return model.get_layer(name)._inbound_nodes[0].input_tensors[0]._keras_history[0].name


@pytest.fixture(scope="module")
def ticket(sample_dir):
    """(model A, path A, model B, path B): the customer-ticket model and its difficulty-head version."""
    a_model, a_path = sample_dir["customer_ticket_model"]
    b_model, b_path = sample_dir["customer_ticket_with_difficulty"]
    return a_model, a_path, b_model, b_path


# --------------------------------------------------------------------------- the seed pair, both ways
@needs_dot
@pytest.mark.parametrize("direction", ["A_vs_B", "B_vs_A"])
def test_exactly_keras_new_layers_are_marked(ticket, tmp_path, direction):
    a_model, a_path, b_model, b_path = ticket
    if direction == "B_vs_A":
        model, path, other, other_path = b_model, b_path, a_model, a_path
    else:
        model, path, other, other_path = a_model, a_path, b_model, b_path
    names, other_names = {layer.name for layer in model.layers}, {layer.name for layer in other.layers}
    added, removed = names - other_names, other_names - names
    assert added or removed  # the pair differs, in one direction or the other

    out = str(tmp_path / "d.svg")
    inspector.render(path, out, diff=other_path)
    root = parse_svg(out)
    nodes = svg_nodes(root)
    assert set(nodes) == names | other_names  # every layer of MODEL, plus OTHER's removed ones as ghosts
    assert marked(root, ADDED) == added
    assert marked(root, REMOVED) == removed
    assert marked(root, CHANGED) == set()
    for nid in added:
        assert "+ added" in text_of(nodes[nid])
    for nid in removed:
        assert "removed" in text_of(nodes[nid])
    for nid in names & other_names:
        assert "added" not in text_of(nodes[nid]) and "removed" not in text_of(nodes[nid])

    # the connection into the new head: green one way, dashed red the other; nothing else coloured
    edges = svg_edges(root)
    new_edges = {(head_source(m, n), n) for n, m in
                 [(n, model) for n in added] + [(n, other) for n in removed]}
    for (src, dst), gs in edges.items():
        for g in gs:
            assert edge_carries(g, ADDED) == ((src, dst) in new_edges and dst in added), (src, dst)
            assert edge_carries(g, REMOVED) == ((src, dst) in new_edges and dst in removed), (src, dst)
    assert new_edges <= set(edges)

    title = text_of(root)
    assert f"diff vs {os.path.basename(other_path)}" in title
    for word in ("added", "changed", "removed", "unchanged"):  # the legend
        assert word in title


@needs_dot
def test_changed_layer_is_marked(keras, tmp_path):
    m1, p1, m2, p2 = save_units_pair(keras, tmp_path)

    def cfg(layer):
        return {k: v for k, v in layer.get_config().items() if k != "name"}

    changed = {layer.name for layer in m2.layers if cfg(layer) != cfg(m1.get_layer(layer.name))}
    assert changed == {"out"}
    out = str(tmp_path / "c.svg")
    inspector.render(inspector.read(p2), out, diff=inspector.read(p1))  # graphs, not paths
    root = parse_svg(out)
    assert set(svg_nodes(root)) == {layer.name for layer in m2.layers}
    assert marked(root, CHANGED) == changed
    assert marked(root, ADDED) == marked(root, REMOVED) == set()
    assert "units" in text_of(svg_nodes(root)["out"])


@needs_dot
def test_diff_against_itself_marks_nothing(ticket, tmp_path):
    a_model, a_path, _, _ = ticket
    out = str(tmp_path / "same.svg")
    inspector.render(a_path, out, diff=a_path)
    root = parse_svg(out)
    assert set(svg_nodes(root)) == {layer.name for layer in a_model.layers}
    for status in (ADDED, CHANGED, REMOVED):
        assert marked(root, status) == set()


# --------------------------------------------------------------------------- formats and other options
@needs_dot
def test_every_format(ticket, tmp_path):
    a_model, a_path, b_model, b_path = ticket
    new = {layer.name for layer in b_model.layers} - {layer.name for layer in a_model.layers}
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"// Keras"), ("html", b"<!DOCTYPE")):
        out = tmp_path / f"d.{fmt}"
        inspector.render(a_path, str(out), diff=b_path)
        assert out.read_bytes()[:len(magic)] == magic, fmt
    dot = (tmp_path / "d.dot").read_text()
    for nid in new:  # the ghost is in the DOT source, dashed
        assert re.search(rf'^"{nid}" \[.*style="[^"]*dashed', dot, re.M)
    html = (tmp_path / "d.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="kgi-data">(.*?)</script>', html, re.S)
                      .group(1).replace("<\\/", "</"))
    status = {d["name"]: d["diff"] for d in data["nodes"].values()}
    assert {n for n, s in status.items() if s == "removed"} == new
    assert {n for n, s in status.items() if s} == new
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    assert marked(parse_svg(svg), REMOVED) == new


def test_html_without_graphviz(ticket, tmp_path, monkeypatch):
    a_model, a_path, b_model, b_path = ticket
    monkeypatch.setenv("INSPECTOR_DOT", str(tmp_path / "no-such-dot"))
    out = tmp_path / "f.html"
    info = inspector.render(b_path, str(out), diff=a_path)
    assert info["layout"] == "builtin"
    html = out.read_text()
    root = parse_svg(html[html.index("<svg"):html.index("</svg>") + 6])
    new = {layer.name for layer in b_model.layers} - {layer.name for layer in a_model.layers}
    assert marked(root, ADDED) == new and marked(root, REMOVED) == set()
    out2 = tmp_path / "g.html"
    inspector.render(a_path, str(out2), diff=b_path)
    html = out2.read_text()
    root = parse_svg(html[html.index("<svg"):html.index("</svg>") + 6])
    assert set(svg_nodes(root)) == {layer.name for layer in a_model.layers} | new
    assert marked(root, REMOVED) == new and marked(root, ADDED) == set()


@needs_dot
def test_with_collapse_highlight_and_range(ticket, tmp_path):
    a_model, a_path, b_model, b_path = ticket
    new = {layer.name for layer in b_model.layers} - {layer.name for layer in a_model.layers}
    (head,) = new
    feature = head_source(b_model, head)
    out = str(tmp_path / "h.svg")
    inspector.render(b_path, out, diff=a_path, collapse=True, highlight=[head])
    fills = {nid for nid, g in svg_nodes(parse_svg(out)).items()
             if any(e.get("fill") == COLOURS[ADDED][0] for e in outlines(g))}
    assert fills == new  # the highlight takes the outline, the diff keeps the fill
    inspector.render(a_path, out, diff=b_path, collapse=True, highlight=[feature])
    root = parse_svg(out)
    assert marked(root, REMOVED) == new
    # a range that ends at the feature layer still shows the ghost fed by it; one that starts after does not
    names = [layer.name for layer in a_model.layers]
    inspector.render(a_path, out, diff=b_path, layer_range=f"{feature}:")
    assert marked(parse_svg(out), REMOVED) == new
    after = names[names.index(feature) + 1]
    inspector.render(a_path, out, diff=b_path, layer_range=f"{after}:{after}")
    assert set(svg_nodes(parse_svg(out))) == {after}


# --------------------------------------------------------------------------- errors and the CLI
def test_unreadable_other_is_one_clear_error(ticket, tmp_path):
    _, a_path, _, b_path = ticket
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    out = tmp_path / "x.svg"
    for bad in (str(junk), str(tmp_path / "missing.keras")):
        with pytest.raises(InspectorError, match="--diff") as e:
            inspector.render(a_path, str(out), diff=bad)
        assert bad in str(e.value)
        r = run_cli("render", a_path, "-o", str(out), "--diff", bad)
        lines = user_lines(r.stderr)
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {bad}: ") and "--diff" in lines[0]
    assert not out.exists()
    twin = tmp_path / "twin.dot"  # the other model is an input too: never written over
    os.link(b_path, twin)
    before = open(b_path, "rb").read()
    with pytest.raises(InspectorError, match="input model"):
        inspector.render(a_path, str(twin), diff=b_path)
    assert open(b_path, "rb").read() == before


@needs_dot
def test_cli_diff(ticket, tmp_path):
    a_model, a_path, b_model, b_path = ticket
    out = str(tmp_path / "cli.svg")
    r = run_cli("render", b_path, "-o", out, "--diff", a_path, check_tf=True)
    assert r.returncode == 0, r.stderr
    assert "TF_LOADED=False" in r.stderr
    root = parse_svg(out)
    assert marked(root, ADDED) == {layer.name for layer in b_model.layers} - {layer.name for layer in a_model.layers}
    r = run_cli("render", "--help")
    assert r.returncode == 0 and "--diff" in r.stdout and re.search(r"inspector render .*--diff", r.stdout)
