"""`inspector render` / `inspector.render` against Keras itself.

Expected layer calls, connections, shapes, shared calls and ancestors come
from the live Keras objects (``keras_truth.keras3_calls``, ``layer.output``),
never from our own earlier output. SVGs are parsed as XML.
"""
from __future__ import annotations

import os
import re
import stat
import struct
import xml.etree.ElementTree as ET
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import run_cli

import inspector
from inspector.errors import InspectorError
from tests.models.keras_truth import calls_per_layer, keras3_calls

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
from inspector.render.dot import dot_binary  # noqa: E402

HAVE_DOT = dot_binary() is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed (make dot)")


# --------------------------------------------------------------------------- helpers
def parse_svg(path_or_text: str) -> ET.Element:
    text = path_or_text
    if not text.lstrip().startswith("<"):
        with open(path_or_text, encoding="utf-8") as f:
            text = f.read()
    return ET.fromstring(text.encode("utf-8"))


def svg_nodes(root: ET.Element) -> dict[str, ET.Element]:
    """title (the layer call's id) -> <g class="node">."""
    return {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def svg_edges(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]


def text_of(g: ET.Element) -> str:
    return "\n".join(t.text or "" for t in g.iter(f"{SVG}text"))


def tooltip_of(g: ET.Element) -> str:
    return " ".join(a.get(f"{XLINK}title") or "" for a in g.iter(f"{SVG}a"))


def stroke_colours(g: ET.Element) -> set[str]:
    return {e.get("stroke") for e in g if e.tag in (f"{SVG}path", f"{SVG}polygon")} | \
           {e.get("stroke") for a in g.iter(f"{SVG}a") for e in a if e.tag in (f"{SVG}path", f"{SVG}polygon")}


def keras_ancestors(truth: dict, nid: str) -> set[str]:
    preds: dict[str, set[str]] = {}
    for (u, v, _t) in truth["edges"]:
        preds.setdefault(v, set()).add(u)
    seen, todo = set(), deque([nid])
    while todo:
        for p in preds.get(todo.popleft(), ()):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def stateless_build(keras, build):
    """Build a model without initialising weights (the graph is all a diagram needs; ~5x faster)."""
    keras.backend.clear_session()
    with keras.StatelessScope(initialize_variables=False):
        model = build()
        config = model.get_config()
    return model, config


def graph_of(model, config) -> inspector.ModelGraph:
    kind = "Sequential" if type(model).__name__ == "Sequential" else "Functional"
    return inspector.from_config({"class_name": kind, "config": config})


# --------------------------------------------------------------------------- every keras.applications model
def _app_names(keras) -> list[str]:
    apps = keras.applications
    return sorted(n for n in dir(apps) if n[:1].isupper() and callable(getattr(apps, n)))


@needs_dot
def test_every_keras_application_renders(keras, tmp_path):
    """All applications, shapes+dtypes+activations+trainable on: valid SVG, one node per layer call,
    one edge per connection (Graphviz 2.42/2.43 aborts on plot_model's ortho+concentrate here)."""
    names = _app_names(keras)
    assert len(names) >= 35, names

    def render(job):
        name, graph, truth = job
        out = str(tmp_path / f"{name}.svg")
        inspector.render(graph, out, show_shapes=True, show_dtype=True, show_layer_activations=True,
                         show_trainable=True)
        return name, out, truth

    def check(name, out, truth):
        root = parse_svg(out)
        nodes = svg_nodes(root)
        assert set(nodes) == set(truth["calls"]), name
        assert len(svg_edges(root)) == sum(truth["edges"].values()), name
        for nid, call in truth["calls"].items():
            text = text_of(nodes[nid])
            if len(call["outputs"]) == 1:
                assert str(tuple(call["outputs"][0])) in text, (name, nid)
            layer = call["op"]
            act = getattr(layer, "activation", None)
            if call["is_layer"] and not call["is_input"] and getattr(act, "__name__", None) and \
                    isinstance(layer.get_config().get("activation"), str):
                assert layer.get_config()["activation"] in text, (name, nid)
        assert "float32" in text_of(root)

    with ThreadPoolExecutor(max_workers=2) as pool:  # dot runs while Keras builds the next model
        futures = []
        for name in names:
            kwargs = {"input_shape": (224, 224, 3)} if name == "NASNetMobile" else {}
            model, config = stateless_build(keras, lambda: getattr(keras.applications, name)(weights=None, **kwargs))
            truth = keras3_calls(model)
            truth["calls"] = {k: {**v, "outputs": [tuple(s) for s in v["outputs"]]} for k, v in truth["calls"].items()}
            futures.append(pool.submit(render, (name, graph_of(model, config), truth)))
            del model
        for f in futures:
            check(*f.result())


# --------------------------------------------------------------------------- seed samples
@needs_dot
@pytest.mark.parametrize("name", ["customer_ticket_model", "customer_ticket_with_difficulty"])
def test_customer_ticket_shapes_visible(sample_dir, tmp_path, name):
    model, path = sample_dir[name]
    out = str(tmp_path / "m.svg")
    info = inspector.render(path, out, show_dtype=True)
    root = parse_svg(out)
    nodes = svg_nodes(root)
    truth = keras3_calls(model)
    assert set(nodes) == set(truth["calls"]) and info["nodes"] == len(truth["calls"])
    assert len(svg_edges(root)) == sum(truth["edges"].values())
    for layer in model.layers:
        assert str(tuple(layer.output.shape)) in text_of(nodes[layer.name]), layer.name
    for t in model.inputs:
        assert str(tuple(t.shape)) in text_of(root)  # (None, 10000) etc.
    # edges carry the tensor shapes (small graph: labelled by default)
    edge_text = " ".join(text_of(e) for e in svg_edges(root))
    assert str(tuple(model.get_layer("concatenate").output.shape)) in edge_text


@needs_dot
def test_shared_layer_calls_marked(sample_dir, tmp_path):
    model, path = sample_dir["shared_layer_model"]
    out = str(tmp_path / "s.svg")
    inspector.render(path, out)
    root = parse_svg(out)
    nodes = svg_nodes(root)
    truth = keras3_calls(model)
    assert set(nodes) == set(truth["calls"])
    assert len(svg_edges(root)) == sum(truth["edges"].values())  # Add()([x, x]): two edges
    shared = {name: n for name, n in calls_per_layer(model).items() if n > 1}
    assert shared
    for name, n in shared.items():
        for k in range(n):
            assert f"shared ×{n}, call {k + 1}" in text_of(nodes[f"{name}:{k}"])


@needs_dot
def test_expand_nested_as_clusters(keras, sample_dir, tmp_path):
    model, path = sample_dir["nested_model"]
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert nested
    out = str(tmp_path / "n.svg")
    inspector.render(path, out, expand_nested=True)
    root = parse_svg(out)
    clusters = [g for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]
    assert len(clusters) == len(nested)
    nodes = svg_nodes(root)
    for sub in nested:
        for inner in sub.layers:
            assert f"{sub.name}/{inner.name}" in nodes
            assert str(tuple(inner.output.shape)) in text_of(nodes[f"{sub.name}/{inner.name}"])
    inspector.render(path, out, expand_nested=True, depth=0)
    root = parse_svg(out)
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]
    assert {layer.name for layer in model.layers} <= set(svg_nodes(root))


@needs_dot
def test_layer_range(sample_dir, tmp_path):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    names = [layer.name for layer in model.layers]
    first, last = names[1], names[4]
    out = str(tmp_path / "r.svg")
    inspector.render(path, out, layer_range=f"{first}:{last}")
    assert set(svg_nodes(parse_svg(out))) == set(names[1:5])
    with pytest.raises(InspectorError, match="did you mean"):
        inspector.render(path, out, layer_range=f"{first}:{last}x")


@needs_dot
def test_highlight_is_feature_extractor(sample_dir, tmp_path):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    truth = keras3_calls(model)
    target = model.layers[4].name  # the seed's feature layer
    expected = keras_ancestors(truth, target) | {target}
    out = str(tmp_path / "h.svg")
    inspector.render(path, out, highlight=[target])
    from inspector.render.style import HIGHLIGHT_PEN

    lit = {nid for nid, g in svg_nodes(parse_svg(out)).items() if HIGHLIGHT_PEN in stroke_colours(g)}
    assert lit == expected


@needs_dot
def test_formats_and_options(sample_dir, tmp_path):
    _, path = sample_dir["customer_ticket_model"]
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"// Keras"), ("svg", b"<?xml")):
        out = tmp_path / f"m.{fmt}"
        inspector.render(path, str(out), rankdir="LR")
        assert out.read_bytes()[:len(magic)] == magic, fmt
        assert stat.S_IMODE(os.stat(out).st_mode) & 0o044, "diagram should be readable by others (umask)"
    sizes = []
    for dpi in (40, 80):
        out = tmp_path / f"d{dpi}.png"
        inspector.render(path, str(out), dpi=dpi)
        sizes.append(struct.unpack(">II", out.read_bytes()[16:24]))
    assert 1.8 < sizes[1][0] / sizes[0][0] < 2.2
    lr = svg_nodes(parse_svg(str(tmp_path / "m.svg")))
    xs = {k: float(g.find(f".//{SVG}text").get("x")) for k, g in lr.items()}
    assert xs["title"] < xs["concatenate"] < xs["priority"]  # flows left to right
    with pytest.raises(InspectorError, match="unknown render option"):
        inspector.render(path, str(tmp_path / "x.svg"), show_everything=True)
    with pytest.raises(InspectorError, match="unknown diagram format"):
        inspector.render(path, str(tmp_path / "x.jpg"))


@needs_dot
def test_failed_node_and_traced_title(sample_dir, tmp_path):
    _, path = sample_dir["functional_simple"]
    g = inspector.read(path)
    victim = g.order()[-1]
    g.node(victim).update(failed=True, error="expected shape=(None, 3), found shape=(1, 64)")
    g.meta["traced"] = True
    out = str(tmp_path / "f.svg")
    inspector.render(g, out)
    root = parse_svg(out)
    node = svg_nodes(root)[victim]
    from inspector.render.style import FAILED_FILL

    assert any(e.get("fill") == FAILED_FILL for e in node.iter())
    assert "found shape=(1, 64)" in tooltip_of(node)
    assert "traced" in text_of(root).split("\n")[0]


@needs_dot
def test_collapse_folds_repeated_blocks(keras, tmp_path):
    model, config = stateless_build(keras, lambda: keras.applications.ResNet50(weights=None))
    truth = keras3_calls(model)
    g = graph_of(model, config)
    from inspector.render import RenderOptions, build_view

    view = build_view(g, RenderOptions(collapse=True))
    covered = [m for n in view.nodes.values() for m in (n.members or [n.id])]
    assert sorted(covered) == sorted(truth["calls"])  # every layer call in exactly one box
    assert len(view.nodes) < 30
    folded = [n for n in view.nodes.values() if n.repeats > 1]
    assert folded and all(m.startswith("conv") for n in folded for m in n.members)
    # the stage-2 identity blocks fold into one box: as many as Keras built after the first block
    stage2 = sorted({layer.name.split("_")[1] for layer in model.layers if layer.name.startswith("conv2_block")})
    assert any(n.repeats == len(stage2) - 1 for n in folded)
    out = str(tmp_path / "c.svg")
    info = inspector.render(g, out, collapse=True)
    root = parse_svg(out)
    assert len(svg_nodes(root)) == info["nodes"] == len(view.nodes)
    import networkx as nx

    dag = nx.DiGraph([(e.src, e.dst) for e in view.edges])
    assert nx.is_directed_acyclic_graph(dag)


def _block_bn(layers, x, k):
    h = layers.Dense(8, name=f"block{k + 1}_dense")(x)
    h = layers.BatchNormalization(name=f"block{k + 1}_bn")(h)
    h = layers.Activation("relu", name=f"block{k + 1}_relu")(h)
    return layers.Add(name=f"block{k + 1}_add")([x, h])


def _block_small(layers, x, k):
    """Three layers: under --collapse-min, yet a block the model repeats."""
    y = layers.ReLU(name=f"blk{k}_relu")(layers.Dense(8, name=f"blk{k}_dense")(x))
    return layers.Add(name=f"blk{k}_add")([x, y])


@pytest.mark.parametrize("block, blocks", [(_block_bn, 300), (_block_small, 400)])
def test_collapse_generated_deep_model(keras, block, blocks):
    """A generated residual model of 1,200 layers folds to input, one ×N box, output."""
    from keras import layers

    def build():
        x = inp = keras.Input((8,), name="input")
        for k in range(blocks):
            x = block(layers, x, k)
        return keras.Model(inp, layers.Dense(2, name="predictions")(x))

    model, config = stateless_build(keras, build)
    from inspector.render import RenderOptions, build_view

    view = build_view(graph_of(model, config), RenderOptions(collapse=True))
    assert [n.repeats for n in view.nodes.values()] == [1, blocks, 1]
    assert len(list(view.nodes.values())[1].members) == len(model.layers) - 2


@needs_dot
def test_layered_layout_for_big_graphs(keras, tmp_path):
    """Above dot's comfortable size the built-in layout places boxes; Graphviz still draws them."""
    model, config = stateless_build(keras, lambda: keras.applications.DenseNet121(weights=None))
    truth = keras3_calls(model)
    out = str(tmp_path / "big.svg")
    info = inspector.render(graph_of(model, config), out, layout="layered")
    assert info["layout"].startswith("layered")
    root = parse_svg(out)
    assert set(svg_nodes(root)) == set(truth["calls"])
    assert len(svg_edges(root)) == sum(truth["edges"].values())
    from inspector.render import RenderOptions, build_view
    from inspector.render.dot import _estimate, plain_lines
    from inspector.render.layout import layered_layout

    view = build_view(graph_of(model, config), RenderOptions())
    sizes = {d: _estimate(plain_lines(n, RenderOptions())) for d, n in view.nodes.items()}
    lay = layered_layout(list(view.nodes), [(e.src, e.dst) for e in view.edges], sizes)
    boxes = sorted((lay.pos[d][1], lay.pos[d][0], lay.size[d]) for d in view.nodes)
    for (y1, x1, (w1, h1)), (y2, x2, (w2, h2)) in zip(boxes, boxes[1:]):
        if abs(y1 - y2) < 1e-6:  # same rank: no overlap
            assert x1 + w1 / 2 <= x2 - w2 / 2 + 1e-6
    for u, v in [(e.src, e.dst) for e in view.edges]:
        assert lay.pos[u][1] < lay.pos[v][1]  # top to bottom


# --------------------------------------------------------------------------- robustness
def test_atomic_and_never_over_input(sample_dir, tmp_path, monkeypatch):
    _, path = sample_dir["customer_ticket_model"]
    fake = tmp_path / "fake-dot"
    fake.write_text("#!/bin/sh\nfor a; do case $prev in -o) echo partial > \"$a\";; esac; prev=$a; done\n"
                    "echo 'Error: simulated crash' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("INSPECTOR_DOT", str(fake))
    out = tmp_path / "keep.svg"
    out.write_text("previous")
    with pytest.raises(InspectorError, match="simulated crash"):
        inspector.render(path, str(out))
    assert out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-dot", "keep.svg"]
    before = open(path, "rb").read()
    twin = tmp_path / "twin.dot"
    os.link(path, twin)
    with pytest.raises(InspectorError, match="input model"):
        inspector.render(path, str(twin))
    assert open(path, "rb").read() == before


def test_without_dot(sample_dir, tmp_path, monkeypatch):
    model, path = sample_dir["customer_ticket_model"]
    monkeypatch.setenv("INSPECTOR_DOT", str(tmp_path / "no-such-dot"))
    with pytest.raises(InspectorError, match="apt-get install graphviz"):
        inspector.render(path, str(tmp_path / "m.svg"))
    info = inspector.render(path, str(tmp_path / "m.dot"))
    assert info["format"] == "dot" and (tmp_path / "m.dot").read_text().count("->") == \
        sum(keras3_calls(model)["edges"].values())
    info = inspector.render(path, str(tmp_path / "m.html"))
    assert info["layout"] == "builtin"
    html = (tmp_path / "m.html").read_text()
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    root = parse_svg(svg)
    assert set(svg_nodes(root)) == {layer.name for layer in model.layers}
    assert len(svg_edges(root)) == sum(keras3_calls(model)["edges"].values())


@needs_dot
def test_html_is_self_contained(sample_dir, tmp_path):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    out = tmp_path / "m.html"
    inspector.render(path, str(out))
    html = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "fetch(" not in html
    for layer in model.layers:
        assert f'"name":"{layer.name}"' in html


@needs_dot
def test_cli_render(sample_dir, tmp_path):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    out = str(tmp_path / "cli.svg")
    r = run_cli("render", path, "-o", out, "--all-info", check_tf=True)
    assert r.returncode == 0, r.stderr
    assert "TF_LOADED=False" in r.stderr and "wrote" in r.stderr
    nodes = svg_nodes(parse_svg(out))
    assert {layer.name for layer in model.layers} == set(nodes)
    r = run_cli("render", path, "-o", out, "--highlight", "no_such_layer")
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "no_such_layer" in r.stderr
    r = run_cli("render", path, "-o", str(tmp_path / "x.txt"))
    assert r.returncode == 2 and "unknown diagram format" in r.stderr
    r = run_cli("render", "--help")
    assert r.returncode == 0 and "Examples" in r.stdout and "--collapse" in r.stdout


@needs_dot
def test_notebook_repr_svg(sample_dir):
    model, path = sample_dir["sequential_model"]
    g = inspector.read(path)
    root = parse_svg(g._repr_svg_())
    assert {layer.name for layer in model.layers} <= set(svg_nodes(root))


@needs_dot
@pytest.mark.parametrize("layout", ["dot", "layered"])
def test_graphviz_source(keras, tmp_path, layout):
    """``to_graphviz`` hands the same diagram to the graphviz package: its own pipe/render draw
    one box per Keras layer call and one edge per connection, for both layout engines."""
    import graphviz

    model, config = stateless_build(keras, lambda: keras.applications.MobileNetV3Small(weights=None))
    truth = keras3_calls(model)
    g = graph_of(model, config)
    src = g.to_graphviz(layout=layout, show_dtype=True)
    assert isinstance(src, graphviz.Source)
    assert src.engine == ("dot" if layout == "dot" else "neato")
    svg = src.pipe(format="svg", encoding="utf-8")
    root = parse_svg(svg)
    assert set(svg_nodes(root)) == set(truth["calls"])
    assert len(svg_edges(root)) == sum(truth["edges"].values())
    # the same drawing as inspector.render's (for "layered": boxes where our layout put them)
    assert svg == inspector.render.to_svg(g, layout=layout, show_dtype=True)
    out = src.render(outfile=str(tmp_path / "g.svg"))
    assert set(svg_nodes(parse_svg(out))) == set(truth["calls"])
