"""inspector.layers.costs against TensorFlow / Keras.

Expected MAC counts come from TensorFlow's own FLOP profiler
(``tf.compat.v1.profiler`` with ``float_operation()``, 2 FLOPs per MAC for
MatMul / Conv2D / DepthwiseConv2dNative / Conv2DBackpropInput) run on the
graph of a batch-1 call of the real layer, or -- for layers built from ops
the profiler has no FLOP rule for (Einsum, RNN loops) -- from the real
layer's weight tensors and real output tensors.  Our functions only see
``get_config()``, the tensor shapes and the weight shapes.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
import tensorflow as tf

L = keras.layers

import inspector  # noqa: E402
from inspector.layers.costs import activation_bytes, count_macs  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="profiler checks need the TF backend")


def _profile_flops(layer, input_shape) -> int:
    """Total float ops TF's profiler attributes to ``layer`` on one sample."""
    layer(keras.Input(input_shape))  # build with the symbolic shape
    fn = tf.function(lambda x: layer(x))
    graph = fn.get_concrete_function(
        tf.TensorSpec((1, *input_shape), tf.float32)).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, options=opts)
    return int(info.total_float_ops)


def _ours(layer, input_shapes):
    """Our MAC count for ``layer`` called on ``input_shapes`` (no batch)."""
    tensors = [keras.Input(s) for s in input_shapes]
    out = layer(tensors[0] if len(tensors) == 1 else tensors)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return count_macs(type(layer).__name__, layer.get_config(),
                      [tuple(t.shape) for t in tensors],
                      [tuple(t.shape) for t in outs],
                      [tuple(w.shape) for w in layer.weights])


PROFILED = [
    ("dense", lambda: L.Dense(13, use_bias=False), (17,)),
    ("conv2d", lambda: L.Conv2D(8, 3, use_bias=False), (12, 11, 3)),
    ("conv2d-stride-same", lambda: L.Conv2D(6, (3, 5), strides=2,
                                            padding="same", use_bias=False),
     (15, 14, 4)),
    ("conv1d", lambda: L.Conv1D(6, 5, strides=2, use_bias=False), (31, 3)),
    ("conv3d", lambda: L.Conv3D(4, 2, use_bias=False), (5, 6, 7, 2)),
    ("depthwise", lambda: L.DepthwiseConv2D(3, depth_multiplier=2,
                                            use_bias=False), (11, 9, 4)),
    ("depthwise-stride", lambda: L.DepthwiseConv2D(
        5, strides=2, padding="same", use_bias=False), (16, 16, 3)),
    ("separable", lambda: L.SeparableConv2D(7, 3, use_bias=False),
     (12, 10, 4)),
    ("separable-dm", lambda: L.SeparableConv2D(
        5, 3, strides=2, padding="same", depth_multiplier=2, use_bias=False),
     (12, 12, 3)),
    ("conv2d-transpose", lambda: L.Conv2DTranspose(
        6, 3, strides=2, padding="same", use_bias=False), (7, 5, 4)),
    ("conv2d-transpose-s1", lambda: L.Conv2DTranspose(
        3, (3, 2), padding="same", use_bias=False), (6, 6, 5)),
]


@pytest.mark.parametrize("make,shape", [pytest.param(m, s, id=i)
                                        for i, m, s in PROFILED])
def test_macs_match_tf_profiler(make, shape):
    keras.backend.clear_session()
    flops = _profile_flops(make(), shape)
    assert flops > 0 and flops % 2 == 0
    assert _ours(make(), [shape]) == flops // 2


@pytest.mark.parametrize("make,shape", [
    # TF runs dilated convs as SpaceToBatch + Conv2D on a padded tensor and
    # grouped convs through ops without a FLOP rule, so the profiler does
    # not measure these; count kernel applications on the real tensors.
    pytest.param(lambda: L.Conv2D(5, 3, dilation_rate=2), (13, 13, 2),
                 id="conv2d-dilated"),
    pytest.param(lambda: L.Conv2D(8, 3, groups=2), (10, 10, 4),
                 id="conv2d-groups"),
    pytest.param(lambda: L.Conv1D(6, 3, groups=3, padding="causal"),
                 (12, 6), id="conv1d-groups-causal"),
    pytest.param(lambda: L.Conv3D(4, 2, groups=2, strides=2,
                                  data_format="channels_first"),
                 (4, 6, 6, 6), id="conv3d-cf-groups"),
])
def test_conv_macs_match_real_tensors(make, shape):
    """Each output position applies the whole kernel (whose in-channel
    axis is already divided by ``groups``) once per output element's
    filter: ``prod(output spatial) * kernel.size``."""
    layer = make()
    y = layer(keras.Input(shape))
    cf = layer.get_config()["data_format"] == "channels_first"
    spatial = y.shape[2:] if cf else y.shape[1:-1]
    expected = int(np.prod(spatial)) * int(np.prod(layer.kernel.shape))
    assert _ours(make(), [shape]) == expected


def test_dense_on_sequences_matches_weights():
    layer = L.Dense(9)
    x = keras.Input((6, 4))
    y = layer(x)
    expected = y.shape[1] * int(np.prod(layer.kernel.shape))
    assert _ours(L.Dense(9), [(6, 4)]) == expected


def test_einsum_dense_matches_weights():
    """One MAC per kernel entry per output position shared with the input."""
    layer = L.EinsumDense("abc,cde->abde", (10, 4, 8), bias_axes="de")
    y = layer(keras.Input((10, 16)))
    expected = y.shape[1] * int(np.prod(layer.kernel.shape))
    assert count_macs("EinsumDense", layer.get_config(), [(None, 10, 16)],
                      [tuple(y.shape)],
                      [tuple(w.shape) for w in layer.weights]) == expected


def test_multi_head_attention_matches_sublayers():
    """Projections from the real projection kernels; QK^T and AV from the
    real attention-score tensor."""
    layer = L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5,
                                 output_shape=7)
    q = np.zeros((1, 6, 8), "float32")
    v = np.zeros((1, 9, 10), "float32")
    out, scores = layer(q, v, return_attention_scores=True)
    size = lambda t: int(np.prod(t.shape))  # noqa: E731
    expected = (
        6 * size(layer.query_dense.kernel)
        + 9 * size(layer.key_dense.kernel)
        + 9 * size(layer.value_dense.kernel)
        + size(scores) * 4  # QK^T: each score is a key_dim dot product
        + size(scores) * 5  # AV: each score weights a value_dim vector
        + 6 * size(layer.output_dense.kernel)
    )
    got = count_macs("MultiHeadAttention", layer.get_config(),
                     [(None, 6, 8), (None, 9, 10)], [(None, 6, 7)],
                     [tuple(w.shape) for w in layer.weights])
    assert got == expected


@pytest.mark.parametrize("make", [
    pytest.param(lambda: L.SimpleRNN(5), id="simplernn"),
    pytest.param(lambda: L.GRU(6, return_sequences=True), id="gru"),
    pytest.param(lambda: L.LSTM(4, return_state=True), id="lstm"),
])
def test_recurrent_matches_weights(make):
    """Each step multiplies the input by ``kernel`` and the state by
    ``recurrent_kernel``."""
    layer = make()
    layer(keras.Input((7, 3)))
    cell = layer.cell
    per_step = int(np.prod(cell.kernel.shape)) + int(
        np.prod(cell.recurrent_kernel.shape))
    assert _ours(make(), [(7, 3)]) == 7 * per_step


def test_bidirectional_and_time_distributed():
    bi = L.Bidirectional(L.LSTM(4))
    bi(keras.Input((7, 3)))
    per_dir = sum(int(np.prod(w.shape)) for w in bi.forward_layer.weights
                  if len(w.shape) == 2)
    assert _ours(L.Bidirectional(L.LSTM(4)), [(7, 3)]) == 2 * 7 * per_dir
    td = L.TimeDistributed(L.Dense(5))
    td(keras.Input((6, 4)))
    assert _ours(L.TimeDistributed(L.Dense(5)), [(6, 4)]) == 6 * int(
        np.prod(td.layer.kernel.shape))


@pytest.mark.parametrize("make,shape", [
    pytest.param(lambda: L.BatchNormalization(), (5, 5, 3), id="bn"),
    pytest.param(lambda: L.LayerNormalization(), (4, 6), id="ln"),
])
def test_normalization_is_one_mac_per_element(make, shape):
    y = make()(keras.Input(shape))
    assert _ours(make(), [shape]) == int(np.prod(y.shape[1:]))


@pytest.mark.parametrize("make,shapes", [
    pytest.param(lambda: L.MaxPooling2D(), [(8, 8, 3)], id="maxpool"),
    pytest.param(lambda: L.GlobalAveragePooling2D(), [(8, 8, 3)], id="gap"),
    pytest.param(lambda: L.Flatten(), [(8, 8, 3)], id="flatten"),
    pytest.param(lambda: L.Reshape((-1,)), [(8, 3)], id="reshape"),
    pytest.param(lambda: L.Dropout(0.3), [(8,)], id="dropout"),
    pytest.param(lambda: L.Embedding(10, 4), [(8,)], id="embedding"),
    pytest.param(lambda: L.Add(), [(8,), (8,)], id="add"),
])
def test_shape_only_layers_are_zero(make, shapes):
    assert _ours(make(), shapes) == 0


def test_unknown_cases_are_none():
    assert count_macs("Lambda", {"trainable": True}, [(None, 3)],
                      [(None, 3)], []) is None
    # an unknown non-batch dim makes the count unknown
    layer = L.Dense(4)
    layer(keras.Input((None, 3)))
    assert count_macs("Dense", layer.get_config(), [(None, None, 3)],
                      [(None, None, 4)], [(3, 4), (4,)]) is None
    assert count_macs("Conv2D", {"trainable": True, "kernel_size": "x"},
                      [(None, 5, 5, 1)], [(None, 3, 3, 1)], []) is None


def test_dense_falls_back_to_weight_shapes():
    layer = L.Dense(6)
    layer(keras.Input((5,)))
    assert count_macs("Dense", layer.get_config(), [None], [(None, 6)],
                      [tuple(w.shape) for w in layer.weights]) == int(
        np.prod(layer.kernel.shape))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16",
                                   "float64", "int32", "int64", "uint8",
                                   "int8", "bool"])
def test_activation_bytes_match_tf_dtype_sizes(dtype):
    """Bytes of a batch-1 output tensor, element size from TensorFlow."""
    y = keras.Input((3, 5), dtype=dtype)
    expected = int(np.prod(y.shape[1:])) * tf.as_dtype(y.dtype).size
    assert activation_bytes([tuple(y.shape)], [y.dtype]) == expected
    assert activation_bytes([tuple(y.shape)], [dtype]) == expected


def test_activation_bytes_multi_output_and_unknowns():
    layer = L.LSTM(4, return_state=True, return_sequences=True)
    outs = layer(keras.Input((7, 3)))
    expected = sum(int(np.prod(t.shape[1:])) * tf.as_dtype(t.dtype).size
                   for t in outs)
    assert activation_bytes([tuple(t.shape) for t in outs],
                            [t.dtype for t in outs]) == expected
    assert activation_bytes([(None, None, 4)], ["float32"]) is None
    assert activation_bytes([(None, 4)], [None]) is None
    assert activation_bytes([(None, 4)], ["string"]) is None
    assert activation_bytes([None], ["float32"]) is None


# --------------------------------------------------------------------------- hand formulas
def _static_macs(model, tmp_path) -> dict:
    path = str(tmp_path / "m.keras")
    model.save(path)
    return {n: a["macs"] for n, a in inspector.read(path).nodes()}


def test_self_attention_formula(tmp_path):
    """Self-attention, sequence S, width d, h heads of size k: Q/K/V projections,
    QK^T, attention*V, output projection."""
    S, d, h, k = 12, 20, 3, 7
    x = keras.Input((S, d))
    mha = L.MultiHeadAttention(num_heads=h, key_dim=k)
    model = keras.Model(x, mha(x, x))
    expected = 3 * S * d * h * k + 2 * S * S * h * k + S * h * k * d
    assert _static_macs(model, tmp_path)[mha.name] == expected
    assert inspector.read(model).node(mha.name)["macs"] == expected


@pytest.mark.parametrize("gate", [False, True])
def test_grouped_query_attention_formula(gate, tmp_path):
    """Query heads Hq, key/value heads Hkv (repeated for free), head size k."""
    Tq, Tk, d, k, hq, hkv = 5, 9, 16, 4, 6, 2
    q, kv = keras.Input((Tq, d)), keras.Input((Tk, d))
    gqa = L.GroupQueryAttention(head_dim=k, num_query_heads=hq, num_key_value_heads=hkv, use_gate=gate)
    model = keras.Model([q, kv], gqa(q, kv))
    expected = ((2 if gate else 1) * Tq * d * hq * k + 2 * Tk * d * hkv * k
                + 2 * hq * Tq * Tk * k + Tq * hq * k * d)
    assert _static_macs(model, tmp_path)[gqa.name] == expected


def test_conv_lstm_matches_kernels():
    """Per step, the input kernel and the recurrent kernel are each applied at every output
    position (the recurrent convolution keeps the output size: "same", stride 1)."""
    layer = L.ConvLSTM2D(5, 3, strides=2, return_sequences=True)
    y = layer(keras.Input((4, 11, 9, 3)))
    positions = y.shape[2] * y.shape[3]
    per_step = positions * (int(np.prod(layer.cell.kernel.shape)) + int(np.prod(layer.cell.recurrent_kernel.shape)))
    assert _ours(L.ConvLSTM2D(5, 3, strides=2, return_sequences=True), [(4, 11, 9, 3)]) == 4 * per_step


def test_stacked_cells_match_kernels():
    layer = L.RNN([L.LSTMCell(4), L.GRUCell(3)])
    layer(keras.Input((6, 5)))
    per_step = sum(int(np.prod(c.kernel.shape)) + int(np.prod(c.recurrent_kernel.shape)) for c in layer.cell.cells)
    assert _ours(L.RNN([L.LSTMCell(4), L.GRUCell(3)]), [(6, 5)]) == 6 * per_step


def test_dense_on_rank4_and_wrappers():
    dense = L.Dense(6)
    dense(keras.Input((3, 4, 5)))
    assert _ours(L.Dense(6), [(3, 4, 5)]) == 3 * 4 * int(np.prod(dense.kernel.shape))
    assert _ours(L.SpectralNormalization(L.Dense(6)), [(3, 5)]) == 3 * 5 * 6
    td = L.TimeDistributed(L.Conv2D(4, 3))
    assert _ours(td, [(2, 6, 6, 3)]) == 2 * _ours(L.Conv2D(4, 3), [(6, 6, 3)])


def test_reversible_embedding_counts_the_reverse_matmul():
    emb = L.ReversibleEmbedding(50, 8)
    tokens = keras.Input((7,), dtype="int32")
    hidden = emb(tokens)
    logits = emb(hidden, reverse=True)
    cfg = emb.get_config()
    assert count_macs("ReversibleEmbedding", cfg, [tuple(tokens.shape)], [tuple(hidden.shape)], []) == 0
    assert count_macs("ReversibleEmbedding", cfg, [tuple(hidden.shape)], [tuple(logits.shape)], []) == 7 * 8 * 50


def test_keras_ops_contractions(tmp_path):
    """``keras.ops.matmul`` / ``einsum`` nodes: every index combination is one MAC."""
    a, b = keras.Input((3, 5)), keras.Input((5, 7))
    m = keras.ops.matmul(a, b)
    e = keras.ops.einsum("bij,bjk->bik", a, b)
    n = keras.ops.einsum("bij,bkj->bik", a, keras.ops.transpose(b, (0, 2, 1)))
    macs = _static_macs(keras.Model([a, b], [m, e, n]), tmp_path)
    ops = {k: v for k, v in macs.items() if k.startswith(("matmul", "einsum"))}
    assert sorted(ops.values()) == [3 * 5 * 7] * 3, macs
    assert count_macs("TFOpLambda", {"function": "linalg.matmul", "trainable": True},
                      [(None, 5, 3)], [(None, 3, 7)], []) == 3 * 5 * 7  # transpose_a


def test_every_class_has_a_mac_rule_or_a_reason():
    from inspector.layers import registry
    from inspector.layers.costs import MAC_RULES, NO_MAC_RULE, ZERO_MACS, ZERO_REASONS

    classes = registry.known_classes() | {c.__name__ for c in vars(keras.layers).values()
                                          if isinstance(c, type) and issubclass(c, keras.layers.Layer)}
    missing = sorted(c for c in classes if c not in MAC_RULES and c not in ZERO_MACS and c not in NO_MAC_RULE)
    assert not missing
    assert set(ZERO_REASONS) == set(ZERO_MACS) and not set(ZERO_MACS) & set(MAC_RULES)
