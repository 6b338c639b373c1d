"""`render` on nested, repeated and very large models, checked against Keras's own facts.

Found by using the command as a demanding user would: --highlight and --layer-range could not
name a layer inside an expanded nested model; --collapse left 3-layer repeated blocks unfolded;
a too-big PNG was silently shrunk to unreadable; a --diff ghost inside a nested model floated
unconnected; collapsed boxes in a nested model repeated the model's path; HTML search missed
layers folded into a collapsed box. Expected names, shapes, ancestry and counts come from the
Keras objects (``keras3_calls``, ``layer.output``), never from our earlier output.
"""
from __future__ import annotations

import warnings

import pytest
from conftest import run_cli, user_lines
from test_render import keras_ancestors, needs_dot, parse_svg, stroke_colours, svg_edges, svg_nodes, text_of

import inspector
from inspector.errors import InspectorError
from tests.models.keras_truth import keras3_calls


# --------------------------------------------------------------------------- models
def _deep3(keras, inner_units: int = 32, with_mid_out: bool = True):
    """A Sequential inside a Functional inside a Functional inside the model: depth 3."""
    from keras import layers

    keras.backend.clear_session()
    seq = keras.Sequential([keras.Input((16,)), layers.Dense(inner_units, activation="relu", name="s_dense1"),
                            layers.Dense(16, name="s_dense2")], name="inner_seq")
    i1 = keras.Input((8,), name="mid_in")
    h = seq(layers.Dense(16, name="mid_dense")(i1))
    mid = keras.Model(i1, layers.Dense(4, name="mid_out")(h) if with_mid_out else h, name="middle")
    i0 = keras.Input((8,), name="outer_in")
    outer = keras.Model(i0, layers.Dense(2, name="outer_head")(mid(layers.Dense(8, name="outer_pre")(i0))),
                        name="outer_fn")
    i = keras.Input((8,), name="top_in")
    return keras.Model(i, layers.Softmax(name="top_softmax")(outer(i)), name="deep3")


@pytest.fixture(scope="module")
def deep3(keras, tmp_path_factory):
    model = _deep3(keras)
    path = str(tmp_path_factory.mktemp("deep3") / "deep3.keras")
    model.save(path)
    return model, path


def nested_paths(keras, model, prefix: str = "") -> dict[str, object]:
    """Display path of every layer call Keras has, nested models opened: {path: layer}."""
    out: dict[str, object] = {}
    for nid, c in keras3_calls(model)["calls"].items():
        if isinstance(c["op"], keras.Model):
            out.update(nested_paths(keras, c["op"], prefix + nid + "/"))
        else:
            out[prefix + nid] = c["op"]
    return out


def nested_ancestors(keras, model, path: list[str], prefix: str = "") -> set[str]:
    """The layer at ``path`` (nested model names, then the layer) and everything it depends on,
    across nesting, from Keras: a nested model feeding it contributes all its calls."""
    truth = keras3_calls(model)
    here = path[0]
    found: set[str] = set()
    for a in keras_ancestors(truth, here):
        op = truth["calls"][a]["op"]
        found |= set(nested_paths(keras, op, prefix + a + "/")) if isinstance(op, keras.Model) else {prefix + a}
    if len(path) == 1:
        return found | {prefix + here}
    return found | nested_ancestors(keras, truth["calls"][here]["op"], path[1:], prefix + here + "/")


# --------------------------------------------------------------------------- --highlight / --layer-range
@needs_dot
@pytest.mark.parametrize("ref", ["s_dense1", "outer_fn/middle/inner_seq/s_dense1"])
def test_highlight_layer_inside_nested_model(keras, deep3, tmp_path, ref):
    model, path = deep3
    out = str(tmp_path / "hl.svg")
    inspector.render(path, out, expand_nested=True, highlight=ref)
    nodes = svg_nodes(parse_svg(out))
    assert set(nodes) == set(nested_paths(keras, model))
    want = nested_ancestors(keras, model, ["outer_fn", "middle", "inner_seq", "s_dense1"])
    from inspector.render.style import HIGHLIGHT_PEN

    lit = {t for t, g in nodes.items() if HIGHLIGHT_PEN in stroke_colours(g)}
    assert lit == want
    assert "outer_fn/middle/inner_seq/s_dense2" not in lit and "top_softmax" not in lit


def test_nested_name_not_drawn_is_one_clear_error(deep3, tmp_path):
    _, path = deep3
    with pytest.raises(InspectorError, match=r"inside the nested model outer_fn/middle/inner_seq.*--depth 3"):
        inspector.render(path, str(tmp_path / "x.dot"), expand_nested=True, depth=1, highlight="s_dense1")
    r = run_cli("render", path, "-o", str(tmp_path / "x.svg"), "--highlight", "s_dense1")
    lines = user_lines(r.stderr)
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {path}: --highlight:"), r.stderr
    assert "--expand-nested" in lines[0]


@needs_dot
@pytest.mark.parametrize("spec", ["mid_dense:top_softmax", "outer_fn/middle/mid_dense:"])
def test_layer_range_across_nested_boundaries(keras, deep3, tmp_path, spec):
    model, path = deep3
    out = str(tmp_path / "range.svg")
    inspector.render(path, out, expand_nested=True, layer_range=spec)
    root = parse_svg(out)
    # the model is a chain, so "mid_dense to the end" is every call except mid_dense's ancestors (Keras's)
    before = nested_ancestors(keras, model, ["outer_fn", "middle", "mid_dense"]) - {"outer_fn/middle/mid_dense"}
    want = set(nested_paths(keras, model)) - before
    assert set(svg_nodes(root)) == want
    assert len(svg_edges(root)) == len(want) - 1  # a chain from mid_dense on


# --------------------------------------------------------------------------- --collapse
@needs_dot
def test_collapsed_nested_backbone(keras, tmp_path):
    """A transfer model around MobileNetV2: every backbone layer in exactly one box inside its
    frame, box names without the backbone's path, and --highlight on a folded inner layer."""
    from keras import layers

    keras.backend.clear_session()
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    inp = keras.Input((32, 32, 3), name="image")
    out = layers.Dense(3, name="head")(layers.GlobalAveragePooling2D(name="gap")(base(inp)))
    path = str(tmp_path / "tl.keras")
    keras.Model(inp, out).save(path)
    from inspector.render import RenderOptions, build_view

    g = inspector.read(path)
    view = build_view(g, RenderOptions(expand_nested=True, collapse=True, highlight=("block_3_expand",)))
    inside = [n for n in view.nodes.values() if n.cluster == base.name]
    folded = [m for n in inside for m in (n.members or [n.id])]
    assert sorted(folded) == sorted(f"{base.name}/{x.name}" for x in base.layers)
    for n in inside:
        assert base.name not in str(n.attrs.get("name"))
    lit = {n.id for n in view.nodes.values() if n.highlighted}
    holder = next(n for n in inside if f"{base.name}/block_3_expand" in (n.members or [n.id]))
    assert holder.id in lit and "head" not in lit and "gap" not in lit
    svg = str(tmp_path / "tl.svg")
    inspector.render(path, svg, expand_nested=True, collapse=True, rankdir="LR")
    texts = [text_of(x) for x in svg_nodes(parse_svg(svg)).values()]
    assert max(len(line) for t in texts for line in t.splitlines()) <= 60  # class lists wrapped


# --------------------------------------------------------------------------- --diff, big PNG
@needs_dot
def test_diff_ghost_inside_nested_model_is_connected(keras, deep3, tmp_path):
    """OTHER's mid_out read the nested Sequential's output (Keras: s_dense2); its ghost says so."""
    model, old = deep3
    new = str(tmp_path / "v2.keras")
    _deep3(keras, inner_units=64, with_mid_out=False).save(new)
    out = str(tmp_path / "diff.svg")
    inspector.render(new, out, expand_nested=True, diff=old)
    inner = model.get_layer("outer_fn").get_layer("middle").get_layer("inner_seq")
    src = f"outer_fn/middle/inner_seq/{inner.layers[-1].name}"
    titles = [e.find("{http://www.w3.org/2000/svg}title").text.replace("&#45;&gt;", "->")
              for e in svg_edges(parse_svg(out))]
    assert f"{src}->outer_fn/middle/mid_out" in titles


@needs_dot
def test_png_too_large_for_a_bitmap_warns(keras, tmp_path):
    from keras import layers

    keras.backend.clear_session()
    x = inp = keras.Input((4,), name="inp")
    for k in range(40):
        x = layers.Dense(4, name=f"d{k}")(x)
    path = str(tmp_path / "chain.keras")
    keras.Model(inp, x).save(path)
    out = str(tmp_path / "chain.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = inspector.render(path, out, dpi=2400)
    assert info["warnings"] and "shrunk" in info["warnings"][0]
    assert any("shrunk" in str(w.message) for w in caught)
    r = run_cli("render", path, "-o", out, "--dpi", "2400")
    assert r.returncode == 0 and any(line.startswith(f"warning: {out}: the PNG") for line in user_lines(r.stderr))
    assert inspector.render(path, str(tmp_path / "small.png"))["warnings"] == []
