"""Traced TensorFlow ops: real shapes for scalars stacked into a vector (not a batch), and the
shape computations (``tf.shape`` -> ``StridedSlice`` -> ``Pack`` -> ``Reshape``, ``tf.identity``)
hidden from summaries and diagrams unless ``--show-ops``, the graph staying connected."""
from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner

HERE = os.path.abspath(__file__)


def build():
    """A subclassed model whose call uses raw TF ops, so it is traced eagerly."""
    import keras
    import tensorflow as tf

    class Packer(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(3, name="dense")
            self.head = keras.layers.Dense(2, name="head")

        def call(self, x):
            h = self.dense(x)
            stats = tf.stack([tf.reduce_mean(h), tf.reduce_max(h)])     # data: two scalars packed, (2,)
            flat = tf.reshape(h, tf.stack([tf.shape(h)[0], -1]))        # plumbing: Shape, StridedSlice, Pack
            return self.head(tf.identity(flat)), stats                  # plumbing: Identity

    keras.utils.set_random_seed(0)
    model = Packer(name="packer")
    model(np.zeros((1, 4), "float32"))
    return model


@pytest.fixture(scope="module")
def traced(keras):
    from inspector.readers.live.trace import trace

    model = build()
    result = trace(model, ["x=4"])
    assert result.mode == "eager" and result.error is None
    return model, result.graph


def _pack_of_stats(g):
    return next(n for n, a in g.nodes() if a["class_name"] == "Pack"
                and {u for u, _, _ in g.in_edges(n)} == {"mean", "max"})


def test_stacked_scalars_have_the_real_shape(traced):
    model, g = traced
    x = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    head, stats = model(x)
    assert g.node(_pack_of_stats(g))["output_shapes"] == [tuple(stats.shape)] == [(2,)]
    assert g.node("shape")["output_shapes"] == [(2,)]   # tf.shape of a rank-2 tensor: 2 dims, not a batch
    # batch-sized outputs still have the batch as None, the rest as Keras computes them
    assert g.node("head")["output_shapes"] == [(None, *head.shape[1:])]
    stats_out = [g.node(o)["output_shapes"][t] for o, t in g.outputs][1]
    assert stats_out == tuple(stats.shape)


def test_plumbing_hidden_bridged_and_params_kept(traced):
    from inspector.graph.plumbing import hide_plumbing, plumbing_nodes

    model, g = traced
    hidden = plumbing_nodes(g)
    assert {g.node(n)["class_name"] for n in hidden} == {"Shape", "StridedSlice", "Pack", "Identity"}
    assert _pack_of_stats(g) not in hidden            # packs data, not shapes
    assert not {"reshape", "mean", "max"} & hidden     # consume data
    view = hide_plumbing(g)
    assert set(view.store.nodes) == set(g.store.nodes) - hidden
    assert len(g) == len(view) + len(hidden)          # the reader's graph still holds everything
    assert view.totals()["params_total"] == g.totals()["params_total"] == model.count_params()
    # connected: every node but the input consumes something, and what Identity passed on reaches head
    assert all(view.in_edges(n) for n in view.store.nodes if n not in view.inputs)
    assert [u for u, _, _ in view.in_edges("head")] == ["reshape"]
    assert [u for u, _, _ in view.in_edges("reshape")] == ["dense"]
    assert "--show-ops" in view.meta["notes"][-1]


def test_untraced_graphs_are_left_alone(keras):
    import inspector
    from inspector.graph.plumbing import hide_plumbing

    x = keras.Input((4,), name="x")
    g = inspector.read(keras.Model(x, keras.layers.Dense(2)(keras.ops.reshape(x, (-1, 2, 2))), name="m"))
    assert any(a["kind"] == "op" for _, a in g.nodes()) and hide_plumbing(g) is g


def _classes(text: str) -> list[str]:
    """The Class column of a text summary's table (the lines between the dashes and the blank line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    return [line.split()[1] for line in lines[start:lines.index("", start)]]


def _cli(*args):
    from inspector.cli.app import main

    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_cli_hides_unless_show_ops(traced, tmp_path):
    spec = f"{HERE}:build"
    default = _cli("summary", spec, "--input", "x=4")
    shown = _cli("summary", spec, "--input", "x=4", "--show-ops")
    assert "Shape" not in _classes(default) and "Identity" not in _classes(default) and "Pack" in _classes(default)
    assert {"Shape", "StridedSlice", "Identity"} <= set(_classes(shown))
    assert "shape-computation ops hidden" in default and "shape-computation" not in shown
    _cli("render", spec, "--input", "x=4", "-o", str(tmp_path / "a.dot"))
    _cli("render", spec, "--input", "x=4", "-o", str(tmp_path / "b.dot"), "--show-ops")
    assert "StridedSlice" not in (tmp_path / "a.dot").read_text()
    assert "StridedSlice" in (tmp_path / "b.dot").read_text()
