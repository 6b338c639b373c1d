"""Whole-model MACs against TensorFlow's FLOP profiler, read statically and live.

Truth: ``model_analyzer.profile(..., float_operation())`` on the graph of a batch-1,
``training=False`` forward pass. What it counts: 2 FLOPs per multiply-accumulate of MatMul,
BatchMatMul, Conv2D, Conv3D, DepthwiseConv2dNative and Conv2DBackpropInput, plus one FLOP per
element of the element-wise ops it has a rule for (BiasAdd, Add, Mul, Rsqrt, Mean, Softmax,
MaxPool/AvgPool ...). What it cannot see: ``Einsum`` ops (no FLOP rule) and anything inside a
``While`` loop's body (a function the profiler does not enter). So the models are chosen to
avoid both, and each test asserts the graph holds neither, else the comparison would be void:

* MultiHeadAttention with ``dropout > 0``: Keras then computes QK^T and attention*V with its own
  ``ops.einsum``, which the TF backend lowers to BatchMatMul; without dropout it calls
  ``tf.einsum`` directly (uncounted). At ``training=False`` the dropout does nothing.
* Recurrent layers with ``unroll=True``: one MatMul per step in the graph instead of a While
  loop. The MAC count does not depend on ``unroll`` (checked below).

The profiler's element-wise FLOPs (biases, layer norms, gates) are not MACs under our
convention, so totals are compared within 10 % of flops / 2; per layer, the contraction ops
alone are compared exactly with 2 * the layer's MACs.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import ops as tf_ops  # noqa: E402
from tensorflow.python.profiler import model_analyzer, option_builder  # noqa: E402

import inspector  # noqa: E402
from inspector.layers.costs import MAC_RULES  # noqa: E402
from inspector.layers.costs_common import per_element  # noqa: E402

L = keras.layers
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="profiler checks need the TF backend")

CONTRACTIONS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv3D",
                "DepthwiseConv2dNative", "Conv2DBackpropInput"}
INVISIBLE = {"Einsum", "While", "StatelessWhile"}


def _graph(call, shapes: list[tuple]) -> tf.Graph:
    specs = [tf.TensorSpec([1, *s], tf.float32) for s in shapes]
    graph = tf.function(call).get_concrete_function(*specs).graph
    hidden = {op.type for op in graph.get_operations()} & INVISIBLE
    assert not hidden, f"the profiler cannot count {hidden}: the comparison would be void"
    return graph


def profiler_flops(model: keras.Model, shapes: list[tuple]) -> int:
    graph = _graph(lambda *x: model(x[0] if len(x) == 1 else list(x), training=False), shapes)
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(model_analyzer.profile(graph=graph, options=opts).total_float_ops)


def contraction_flops(layer, shapes: list[tuple]) -> int:
    """FLOPs of the layer's contraction ops alone, by the rules the profiler uses."""
    positional = len(shapes) == 1 or isinstance(layer, (L.MultiHeadAttention, L.GroupQueryAttention))
    graph = _graph(lambda *x: layer(*x, training=False) if positional else layer(list(x), training=False),
                   shapes)
    return sum(tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
               for op in graph.get_operations() if op.type in CONTRACTIONS)


def transformer() -> tuple[keras.Model, list[tuple]]:
    """One encoder block, fixed sequence length 16, model width 64."""
    x = keras.Input((16, 64))
    a = L.MultiHeadAttention(num_heads=4, key_dim=16, dropout=0.1)(x, x)
    h = L.LayerNormalization()(L.Add()([x, a]))
    f = L.Dense(128, activation="relu")(h)
    f = L.Dense(64)(f)
    y = L.LayerNormalization()(L.Add()([h, f]))
    return keras.Model(x, y, name="transformer"), [(16, 64)]


def cnn() -> tuple[keras.Model, list[tuple]]:
    x = keras.Input((24, 24, 3))
    h = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    h = L.MaxPooling2D()(h)
    h = L.SeparableConv2D(24, 3, padding="same", depth_multiplier=2)(h)
    h = L.DepthwiseConv2D(3, strides=2)(h)
    h = L.Conv2DTranspose(8, 3, strides=2, padding="same")(h)
    h = L.AveragePooling2D(2)(h)
    h = L.Flatten()(h)
    y = L.Dense(10)(h)
    return keras.Model(x, y, name="cnn"), [(24, 24, 3)]


def rnn(unroll: bool = True) -> tuple[keras.Model, list[tuple]]:
    x = keras.Input((12, 8))
    h = L.LSTM(16, return_sequences=True, unroll=unroll)(x)
    h = L.GRU(12, return_sequences=True, unroll=unroll)(h)
    h = L.Bidirectional(L.SimpleRNN(8, unroll=unroll))(h)
    y = L.Dense(4)(h)
    return keras.Model(x, y, name="rnn"), [(12, 8)]


def gqa() -> tuple[keras.Model, list[tuple]]:
    """Cross-attention with grouped query heads (dropout > 0 for the same reason as MHA)."""
    q, kv = keras.Input((10, 32)), keras.Input((14, 32))
    a = L.GroupQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2, dropout=0.1)(q, kv)
    return keras.Model([q, kv], L.Dense(16)(a), name="gqa"), [(10, 32), (14, 32)]


BUILDERS = {"transformer": transformer, "cnn": cnn, "rnn": rnn, "gqa": gqa}


@pytest.fixture(scope="module", params=list(BUILDERS))
def case(request, tmp_path_factory):
    """(model, input shapes, static graph, live graph), built once per model."""
    keras.backend.clear_session()
    model, shapes = BUILDERS[request.param]()
    path = tmp_path_factory.mktemp("macs") / f"{request.param}.keras"
    model.save(path)
    return model, shapes, inspector.read(str(path)), inspector.read(model)


def test_total_macs_within_10_percent_of_profiler(case):
    model, shapes, static, live = case
    half = profiler_flops(model, shapes) / 2
    for g in (static, live):
        t = g.totals()
        assert t["macs_known"]
        assert abs(t["macs"] - half) <= 0.10 * half, (g.name, t["macs"], half)
    assert static.totals()["macs"] == live.totals()["macs"]


def test_each_contraction_layer_matches_its_profiled_ops(case):
    """Exactly: a layer's MACs are half the FLOPs of its MatMul/Conv ops. Normalization
    layers are skipped (one MAC per element by convention, no contraction op)."""
    model, _, static, live = case
    checked = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or MAC_RULES.get(type(layer).__name__) is per_element:
            continue
        node = static.node(layer.name)
        shapes = [tuple(s[1:]) for s in node["input_shapes"]]
        expected = contraction_flops(layer, shapes)
        assert 2 * node["macs"] == expected, (layer.name, node["macs"], expected)
        assert live.node(layer.name)["macs"] == node["macs"]
        checked += expected > 0
    assert checked >= 2


def test_recurrent_macs_do_not_depend_on_unroll():
    """The profiler needs ``unroll=True`` (it does not enter a While loop's body, and sees
    almost nothing of the looped model); the count is the same either way."""
    looped, shapes = rnn(unroll=False)
    unrolled, _ = rnn(unroll=True)
    graph = tf.function(lambda x: looped(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, *shapes[0]])).graph
    assert "While" in {op.type for op in graph.get_operations()}
    assert inspector.read(looped).totals()["macs"] == inspector.read(unrolled).totals()["macs"] > 0


# --------------------------------------------------------------------------- unknown counts
class TwoDense(keras.layers.Layer):
    """A custom layer: no rule knows it; its traced inside (live path) has two Dense calls."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.a, self.b = L.Dense(8), L.Dense(3)

    def call(self, x):
        return self.b(self.a(x))


def test_nested_and_traced_nodes_sum_their_insides(tmp_path):
    keras.backend.clear_session()
    x = keras.Input((5,))
    inner = keras.Model(x, L.Dense(7)(L.Dense(6)(x)), name="inner")
    outer_x = keras.Input((5,))
    custom = TwoDense()
    model = keras.Model(outer_x, custom(inner(outer_x)))
    path = str(tmp_path / "nested.keras")
    model.save(path)
    for g in (inspector.read(path), inspector.read(model)):
        assert g.node("inner")["macs"] == 5 * 6 + 6 * 7 == g.subgraphs["inner"].totals()["macs"]
    live = inspector.read(model).node(custom.name)
    assert live["macs"] == 7 * 8 + 8 * 3 == custom.a.kernel.shape[0] * 8 + 8 * 3


def test_footer_names_the_open_sequence_length(tmp_path):
    """A length left open makes the count unknown: '?' and why, never a silent lower bound."""
    from inspector.report.summary import footer

    keras.backend.clear_session()
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    h = L.Embedding(100, 16)(tokens)
    h = L.MultiHeadAttention(2, 8)(h, h)
    model = keras.Model(tokens, L.Dense(4)(L.LSTM(8)(h)))
    path = str(tmp_path / "open.keras")
    model.save(path)
    for g in (inspector.read(path), inspector.read(model)):
        line = next(li for li in footer(g) if li.startswith("MACs per sample"))
        assert line == ("MACs per sample: ? (depends on the size of axis 1 of input 'tokens' (None, None), "
                        "which the model leaves open)"), line
    custom = keras.Model(tokens, TwoDense()(L.Dense(5)(L.Embedding(100, 16)(tokens))[:, 0]))
    custom.save(path)
    line = next(li for li in footer(inspector.read(path)) if li.startswith("MACs per sample"))
    assert line.endswith("which the model leaves open; other layers unknown too)"), line
