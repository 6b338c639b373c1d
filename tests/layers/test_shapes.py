"""inspector.layers.shapes against Keras itself.

Every expected shape comes from a real Keras object: a Keras 3 layer (or
``keras.ops`` operation) called symbolically on ``keras.Input`` tensors, a
tf-keras layer for the Keras 2 config dialect, or -- where Keras' symbolic
shape is known to disagree with what the layer really computes -- an eager
call on zeros.  Our function only ever sees ``get_config()`` and the input
shapes, never the layer.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np

L = keras.layers

from inspector.layers.shapes import infer_output_shapes  # noqa: E402


def _outputs(result) -> list[tuple]:
    if not isinstance(result, (list, tuple)):
        result = [result]
    return [tuple(t.shape) for t in result]


def _check(layer, input_shapes, call="single", kwargs=None, name=None):
    """Call ``layer`` symbolically and compare with our static inference."""
    kwargs = kwargs or {}
    tensors = [keras.Input(batch_shape=(None, *s)) for s in input_shapes]
    if call == "single":
        out = layer(tensors[0], **kwargs)
    elif call == "list":
        out = layer(tensors, **kwargs)
    else:  # positional tensors, e.g. MultiHeadAttention(query, value, key)
        out = layer(*tensors, **kwargs)
    expected = _outputs(out)
    config = layer.get_config()
    got = infer_output_shapes(name or type(layer).__name__, config,
                              [t.shape for t in tensors], kwargs)
    assert got == expected, (type(layer).__name__, config)


def C(id, make, *shapes, call="single", **kwargs):
    return pytest.param(make, list(shapes), call, kwargs, id=id)


CASES = [
    # core
    C("dense", lambda: L.Dense(7), (5,)),
    C("dense-3d", lambda: L.Dense(7, activation="relu"), (4, 5)),
    C("dense-unknown-time", lambda: L.Dense(3), (None, 5)),
    C("einsum-bias", lambda: L.EinsumDense("abc,cde->abde", (10, 4, 8),
                                           bias_axes="de"), (10, 16)),
    C("einsum-left-ellipsis", lambda: L.EinsumDense("...b,bc->...c", 64),
      (10, 16)),
    C("einsum-right-ellipsis", lambda: L.EinsumDense("ab...,bc->ac...", 8),
      (16, 3, 5)),
    C("einsum-2d", lambda: L.EinsumDense("ab,bc->ac", 12, bias_axes="c"), (6,)),
    C("embedding", lambda: L.Embedding(100, 16), (12,)),
    C("embedding-2d", lambda: L.Embedding(100, 4), (3, 5)),
    C("identity", lambda: L.Identity(), (3, 4)),
    C("masking", lambda: L.Masking(), (6, 3)),
    C("rescaling", lambda: L.Rescaling(1 / 255.0), (8, 8, 3)),
    C("normalization", lambda: L.Normalization(mean=0.0, variance=1.0),
      (8, 3)),
    # conv
    C("conv1d-causal-dil", lambda: L.Conv1D(4, 3, padding="causal",
                                            dilation_rate=2), (17, 3)),
    C("conv1d-stride", lambda: L.Conv1D(4, 5, strides=3), (20, 2)),
    C("conv2d", lambda: L.Conv2D(8, 3), (32, 32, 3)),
    C("conv2d-same-stride", lambda: L.Conv2D(8, (3, 5), strides=(2, 3),
                                             padding="same"), (31, 29, 3)),
    C("conv2d-cf", lambda: L.Conv2D(8, 3, data_format="channels_first"),
      (3, 16, 12)),
    C("conv2d-dilated", lambda: L.Conv2D(4, 3, dilation_rate=(2, 3)),
      (20, 20, 2)),
    C("conv2d-groups", lambda: L.Conv2D(8, 3, groups=2), (10, 10, 4)),
    C("conv2d-unknown-hw", lambda: L.Conv2D(8, 3, strides=2), (None, None, 3)),
    C("conv3d", lambda: L.Conv3D(2, (2, 3, 3), strides=(1, 2, 2)),
      (6, 9, 9, 1)),
    C("conv3d-cf", lambda: L.Conv3D(2, 3, padding="same",
                                    data_format="channels_first"),
      (1, 5, 6, 7)),
    C("conv1dT", lambda: L.Conv1DTranspose(3, 4, strides=2), (7, 2)),
    C("conv2dT-same", lambda: L.Conv2DTranspose(4, 3, strides=2,
                                                padding="same"), (5, 6, 3)),
    C("conv2dT-valid", lambda: L.Conv2DTranspose(4, 3, strides=2), (5, 6, 3)),
    C("conv2dT-outpad", lambda: L.Conv2DTranspose(
        4, 3, strides=2, padding="same", output_padding=1), (5, 6, 3)),
    C("conv2dT-dil", lambda: L.Conv2DTranspose(4, 3, dilation_rate=2),
      (5, 6, 3)),
    C("conv2dT-cf", lambda: L.Conv2DTranspose(
        4, (2, 3), strides=(2, 1), data_format="channels_first"), (3, 5, 6)),
    C("conv3dT", lambda: L.Conv3DTranspose(2, 2, strides=2), (3, 4, 5, 1)),
    C("dwconv1d", lambda: L.DepthwiseConv1D(3, depth_multiplier=2), (10, 4)),
    C("dwconv2d", lambda: L.DepthwiseConv2D(3, strides=2, padding="same",
                                            depth_multiplier=3), (15, 15, 4)),
    C("dwconv2d-cf", lambda: L.DepthwiseConv2D(
        3, data_format="channels_first"), (4, 9, 9)),
    C("sepconv1d", lambda: L.SeparableConv1D(6, 3, padding="same"), (9, 4)),
    C("sepconv2d", lambda: L.SeparableConv2D(6, 3, strides=2,
                                             depth_multiplier=2), (15, 15, 4)),
    # pooling
    C("maxpool1d", lambda: L.MaxPooling1D(3), (10, 4)),
    C("maxpool2d", lambda: L.MaxPooling2D(), (9, 9, 3)),
    C("maxpool2d-same", lambda: L.MaxPooling2D(3, strides=2, padding="same"),
      (9, 8, 3)),
    C("avgpool2d-cf", lambda: L.AveragePooling2D(
        2, data_format="channels_first"), (3, 8, 7)),
    C("maxpool3d", lambda: L.MaxPooling3D((1, 2, 2)), (4, 8, 8, 2)),
    C("avgpool3d", lambda: L.AveragePooling3D(2, strides=1), (4, 5, 6, 2)),
    C("avgpool1d", lambda: L.AveragePooling1D(2, padding="same"), (7, 3)),
    C("gmaxpool1d", lambda: L.GlobalMaxPooling1D(), (7, 3)),
    C("gavgpool2d", lambda: L.GlobalAveragePooling2D(), (7, 7, 3)),
    C("gavgpool2d-keep", lambda: L.GlobalAveragePooling2D(keepdims=True),
      (7, 7, 3)),
    C("gmaxpool3d-cf", lambda: L.GlobalMaxPooling3D(
        data_format="channels_first", keepdims=True), (3, 4, 4, 4)),
    # normalisation, activations, regularisation (shape preserving)
    C("batchnorm", lambda: L.BatchNormalization(), (8, 8, 3)),
    C("layernorm", lambda: L.LayerNormalization(), (5, 6)),
    C("groupnorm", lambda: L.GroupNormalization(groups=2), (5, 4)),
    C("unitnorm", lambda: L.UnitNormalization(), (5, 4)),
    C("activation", lambda: L.Activation("gelu"), (5,)),
    C("relu", lambda: L.ReLU(max_value=6.0), (5,)),
    C("leakyrelu", lambda: L.LeakyReLU(), (5, 2)),
    C("prelu", lambda: L.PReLU(), (5, 2)),
    C("elu", lambda: L.ELU(), (5,)),
    C("softmax", lambda: L.Softmax(axis=1), (5, 3)),
    C("dropout", lambda: L.Dropout(0.5), (5,)),
    C("spatialdropout2d", lambda: L.SpatialDropout2D(0.5), (4, 4, 2)),
    C("gaussiannoise", lambda: L.GaussianNoise(0.1), (5,)),
    C("gaussiandropout", lambda: L.GaussianDropout(0.1), (5,)),
    C("alphadropout", lambda: L.AlphaDropout(0.1), (5,)),
    # reshaping
    C("flatten", lambda: L.Flatten(), (3, 4, 5)),
    C("flatten-unknown", lambda: L.Flatten(), (3, None)),
    C("reshape", lambda: L.Reshape((6, 2)), (3, 4)),
    C("reshape-minus1", lambda: L.Reshape((-1, 4)), (3, 4, 2)),
    C("reshape-minus1-unknown", lambda: L.Reshape((-1, 4)), (None, 4)),
    C("permute", lambda: L.Permute((2, 1, 3)), (3, 4, 5)),
    C("repeatvector", lambda: L.RepeatVector(4), (6,)),
    C("zeropad1d", lambda: L.ZeroPadding1D((1, 2)), (5, 3)),
    C("zeropad2d", lambda: L.ZeroPadding2D(((1, 2), (3, 4))), (5, 6, 3)),
    C("zeropad2d-cf", lambda: L.ZeroPadding2D(
        2, data_format="channels_first"), (3, 5, 6)),
    C("zeropad3d", lambda: L.ZeroPadding3D((1, 2, 3)), (2, 3, 4, 1)),
    C("crop1d", lambda: L.Cropping1D((1, 2)), (6, 3)),
    C("crop2d", lambda: L.Cropping2D(((1, 0), (2, 2))), (6, 7, 3)),
    C("crop3d", lambda: L.Cropping3D(1), (4, 5, 6, 2)),
    C("upsample1d", lambda: L.UpSampling1D(3), (4, 2)),
    C("upsample2d", lambda: L.UpSampling2D((2, 3)), (4, 5, 2)),
    C("upsample2d-cf", lambda: L.UpSampling2D(
        2, data_format="channels_first"), (2, 4, 5)),
    C("upsample3d", lambda: L.UpSampling3D(2), (2, 3, 4, 1)),
    # preprocessing
    C("resizing", lambda: L.Resizing(10, 12), (20, 24, 3)),
    C("centercrop", lambda: L.CenterCrop(6, 5), (8, 8, 3)),
    C("randomflip", lambda: L.RandomFlip(), (8, 8, 3)),
    C("randomrotation", lambda: L.RandomRotation(0.1), (8, 8, 3)),
    C("randomzoom", lambda: L.RandomZoom(0.1), (8, 8, 3)),
    C("randomcontrast", lambda: L.RandomContrast(0.1), (8, 8, 3)),
    # merging
    C("add", lambda: L.Add(), (4, 5), (4, 5), call="list"),
    C("add-broadcast", lambda: L.Add(), (3, 1), (1, 4), call="list"),
    C("add-unknown", lambda: L.Add(), (None, 4), (5, 4), call="list"),
    C("subtract", lambda: L.Subtract(), (4,), (4,), call="list"),
    C("multiply-3", lambda: L.Multiply(), (4,), (4,), (4,), call="list"),
    C("average", lambda: L.Average(), (2, 3), (2, 3), call="list"),
    C("maximum", lambda: L.Maximum(), (2, 3), (2, 3), call="list"),
    C("minimum", lambda: L.Minimum(), (2, 3), (2, 3), call="list"),
    C("concat", lambda: L.Concatenate(), (4, 3), (4, 5), call="list"),
    C("concat-axis1", lambda: L.Concatenate(axis=1), (4, 3), (2, 3),
      call="list"),
    C("concat-neg2", lambda: L.Concatenate(axis=-2), (4, 3), (6, 3), (1, 3),
      call="list"),
    C("concat-unknown", lambda: L.Concatenate(axis=1), (None, 3), (2, 3),
      call="list"),
    C("dot", lambda: L.Dot(axes=1), (5,), (5,), call="list"),
    C("dot-3d", lambda: L.Dot(axes=(2, 2)), (3, 4), (6, 4), call="list"),
    C("dot-neg", lambda: L.Dot(axes=-1, normalize=True), (3, 4), (6, 4),
      call="list"),
    # attention
    C("mha-self", lambda: L.MultiHeadAttention(2, 8), (10, 16), (10, 16),
      call="args"),
    C("mha-cross-key", lambda: L.MultiHeadAttention(4, 3, value_dim=5),
      (6, 16), (9, 12), (9, 7), call="args"),
    C("mha-output-shape", lambda: L.MultiHeadAttention(2, 4, output_shape=11),
      (6, 16), (9, 12), call="args"),
    C("mha-scores-self", lambda: L.MultiHeadAttention(3, 4), (7, 8), (7, 8),
      call="args", return_attention_scores=True),
    C("mha-4d", lambda: L.MultiHeadAttention(2, 4), (3, 5, 8), (3, 5, 8),
      call="args"),
    C("attention", lambda: L.Attention(), (4, 8), (6, 8), call="list"),
    C("attention-scores", lambda: L.Attention(), (4, 8), (6, 5), (6, 8),
      call="list", return_attention_scores=True),
    C("additive-attention", lambda: L.AdditiveAttention(), (4, 8), (6, 8),
      call="list"),
    # recurrent
    C("simplernn", lambda: L.SimpleRNN(5), (7, 3)),
    C("lstm-seq", lambda: L.LSTM(5, return_sequences=True), (7, 3)),
    C("lstm-state", lambda: L.LSTM(5, return_state=True), (7, 3)),
    C("gru-seq-state", lambda: L.GRU(4, return_sequences=True,
                                     return_state=True), (None, 3)),
    C("rnn-cell", lambda: L.RNN(L.LSTMCell(6), return_state=True), (7, 3)),
    C("bidir-concat", lambda: L.Bidirectional(L.LSTM(5)), (7, 3)),
    C("bidir-sum-seq", lambda: L.Bidirectional(
        L.GRU(5, return_sequences=True), merge_mode="sum"), (7, 3)),
    C("bidir-none", lambda: L.Bidirectional(L.SimpleRNN(4), merge_mode=None),
      (7, 3)),
    C("bidir-state", lambda: L.Bidirectional(L.LSTM(5, return_state=True)),
      (7, 3)),
    C("timedist-dense", lambda: L.TimeDistributed(L.Dense(3)), (7, 4)),
    C("timedist-conv", lambda: L.TimeDistributed(L.Conv2D(4, 3, strides=2)),
      (5, 9, 9, 2)),
    C("timedist-flatten", lambda: L.TimeDistributed(L.Flatten()), (5, 3, 2)),
]


@pytest.mark.parametrize("make,shapes,call,kwargs", CASES)
def test_keras3_layer(make, shapes, call, kwargs):
    _check(make(), shapes, call, kwargs)


def test_keras3_input_layer():
    x = keras.Input(shape=(5, None, 3), batch_size=4)
    layer = x._keras_history.operation
    assert infer_output_shapes("InputLayer", layer.get_config(), []) == [
        tuple(x.shape)]


def _eager_shape(layer, shapes, **kwargs):
    """Shape the layer really produces (batch 2, reported as None)."""
    arrays = [np.zeros((2, *s), "float32") for s in shapes]
    out = layer(*arrays, **kwargs)
    return _outputs(out), [(None, *s) for s in shapes]


def test_einsum_many_leading_elided_axes_follow_runtime():
    """Keras' symbolic shape reverses >1 leading elided axes; the einsum
    itself does not, and neither do we."""
    layer = L.EinsumDense("...b,bc->...c", output_shape=8)
    expected, shapes = _eager_shape(layer, [(3, 5, 16)])
    expected = [(None, *s[1:]) for s in expected]
    assert infer_output_shapes("EinsumDense", layer.get_config(),
                               shapes) == expected


def test_einsum_unknown_partial_dim_follows_runtime():
    """``output_shape=(None, ...)`` for an axis shared with the input: the
    einsum (and tf-keras) give the input's size, Keras 3's symbolic shape
    says None; we report the size."""
    layer = L.EinsumDense("abc,cde->abde", (None, 4, 8), bias_axes="de")
    expected, shapes = _eager_shape(layer, [(10, 16)])
    expected = [(None, *s[1:]) for s in expected]
    assert infer_output_shapes("EinsumDense", layer.get_config(),
                               shapes) == expected


def test_mha_cross_attention_scores_follow_runtime():
    """Keras' symbolic MHA reuses the query length for the key axis of the
    scores; the real call returns (batch, heads, Tq, Tk)."""
    layer = L.MultiHeadAttention(2, 4)
    expected, shapes = _eager_shape(layer, [(5, 8), (3, 6)],
                                    return_attention_scores=True)
    expected = [(None, *s[1:]) for s in expected]
    got = infer_output_shapes("MultiHeadAttention", layer.get_config(), shapes,
                              {"return_attention_scores": True})
    assert got == expected


def test_bidirectional_with_different_backward_layer_follows_runtime():
    """Keras' symbolic shape doubles the forward width for "concat"; the
    call concatenates forward and backward outputs of different widths."""
    layer = L.Bidirectional(
        L.GRU(5, return_sequences=True),
        backward_layer=L.GRU(3, return_sequences=True, go_backwards=True))
    expected, shapes = _eager_shape(layer, [(7, 3)])
    expected = [(None, *s[1:]) for s in expected]
    assert infer_output_shapes("Bidirectional", layer.get_config(),
                               shapes) == expected


def test_mha_attention_axes_scores_follow_runtime():
    layer = L.MultiHeadAttention(2, 4, attention_axes=(2,))
    expected, shapes = _eager_shape(layer, [(3, 5, 8), (3, 4, 8)],
                                    return_attention_scores=True)
    expected = [(None, *s[1:]) for s in expected]
    got = infer_output_shapes("MultiHeadAttention", layer.get_config(), shapes,
                              {"return_attention_scores": True})
    assert got == expected


# --------------------------------------------------------------------------
# keras.ops nodes, as they appear in a Keras 3 Functional config
# --------------------------------------------------------------------------

O = keras.ops
OP_CASES = [
    ("add", lambda a, b: O.add(a, b), [(4, 5), (4, 5)]),
    ("add-broadcast", lambda a, b: O.add(a, b), [(None, 4), (5, 4)]),
    ("add-scalar", lambda a: O.add(a, 1.0), [(4, 5)]),
    ("subtract", lambda a, b: O.subtract(a, b), [(3, 1), (1, 4)]),
    ("multiply", lambda a, b: O.multiply(a, b), [(4,), (4,)]),
    ("divide", lambda a, b: O.divide(a, b), [(4, 2), (2,)]),
    ("relu", lambda a: O.relu(a), [(4, 5)]),
    ("sigmoid", lambda a: O.sigmoid(a), [(4,)]),
    ("tanh", lambda a: O.tanh(a), [(4,)]),
    ("softmax", lambda a: O.softmax(a, axis=1), [(4, 3)]),
    ("exp", lambda a: O.exp(a), [(4,)]),
    ("abs", lambda a: O.abs(a), [(4,)]),
    ("negative", lambda a: O.negative(a), [(4,)]),
    ("square", lambda a: O.square(a), [(4,)]),
    ("sqrt", lambda a: O.sqrt(a), [(4,)]),
    ("maximum", lambda a, b: O.maximum(a, b), [(4, 1), (4, 3)]),
    ("reshape", lambda a: O.reshape(a, (-1, 6, 2)), [(3, 4)]),
    ("transpose", lambda a: O.transpose(a, (0, 2, 1)), [(3, 4)]),
    ("concatenate", lambda a, b: O.concatenate([a, b], axis=-1),
     [(3, 4), (3, 2)]),
    ("matmul", lambda a, b: O.matmul(a, b), [(3, 4), (4, 6)]),
    ("expand_dims", lambda a: O.expand_dims(a, 1), [(3, 4)]),
    ("squeeze", lambda a: O.squeeze(a, -1), [(3, 1)]),
]


@pytest.mark.parametrize("fn,shapes", [pytest.param(f, s, id=i)
                                       for i, f, s in OP_CASES])
def test_keras3_ops(fn, shapes):
    tensors = [keras.Input(batch_shape=(None, *s)) for s in shapes]
    out = fn(*tensors)
    op = out._keras_history.operation
    got = infer_output_shapes(type(op).__name__, op.get_config(),
                              [t.shape for t in tensors])
    assert got == [tuple(out.shape)]


def test_unsupported_op_is_unknown():
    x = keras.Input((4, 5))
    out = O.diagonal(x)
    op = out._keras_history.operation
    assert infer_output_shapes(type(op).__name__, op.get_config(),
                               [x.shape]) is None


def test_op_average_is_not_the_merge_layer():
    """``ops.average`` reduces an axis; the Average merge layer would keep
    the input's shape."""
    x = keras.Input((4, 5))
    out = O.average(x, axis=1)
    op = out._keras_history.operation
    assert type(op).__name__ == "Average"
    got = infer_output_shapes("Average", op.get_config(), [x.shape])
    assert got == [tuple(out.shape)] == [(None, 5)]


def test_functional_config_nodes():
    """The shapes recorded in a saved Functional config agree with ours for
    every node (layers and ops), fed with the recorded input shapes."""
    x = keras.Input((8, 8, 3))
    y = L.Conv2D(4, 3)(x)
    z = O.add(y, y)
    z = O.reshape(z, (-1, 36, 4))
    outs = L.Bidirectional(L.LSTM(5, return_state=True))(z)
    model = keras.Model(x, outs)
    for entry in model.get_config()["layers"]:
        nodes = entry["inbound_nodes"]
        if not nodes:
            continue
        args = nodes[0]["args"]
        flat = args[0] if isinstance(args[0], list) else args
        in_shapes = [tuple(a["config"]["shape"]) for a in flat]
        layer = model.get_layer(entry["name"]) if entry["module"] == \
            "keras.layers" else None
        got = infer_output_shapes(entry["class_name"], entry["config"],
                                  in_shapes, nodes[0]["kwargs"])
        op = layer or next(o for o in model.operations
                           if o.name == entry["name"])
        expected = _outputs(op.output) if layer else _outputs(
            op._inbound_nodes[0].output_tensors)
        assert got == expected, entry["name"]


# --------------------------------------------------------------------------
# Keras 2 / tf-keras configs
# --------------------------------------------------------------------------

def _tf_keras():
    try:
        import tf_keras
    except Exception as err:  # pragma: no cover - depends on the venv
        pytest.skip(f"tf_keras (Keras 2 config dialect) not importable: {err}")
    return tf_keras


K2_CASES = [
    ("dense", lambda K: K.layers.Dense(4), [(6,)], "single", {}),
    ("conv2d", lambda K: K.layers.Conv2D(4, 3, strides=2), [(9, 9, 3)],
     "single", {}),
    ("conv2dT", lambda K: K.layers.Conv2DTranspose(4, 3, strides=2,
                                                   padding="same"),
     [(5, 5, 3)], "single", {}),
    ("sepconv2d", lambda K: K.layers.SeparableConv2D(5, 3), [(9, 9, 3)],
     "single", {}),
    ("dwconv2d", lambda K: K.layers.DepthwiseConv2D(3, depth_multiplier=2),
     [(9, 9, 3)], "single", {}),
    ("maxpool1d", lambda K: K.layers.MaxPooling1D(2), [(9, 3)], "single", {}),
    ("gavgpool", lambda K: K.layers.GlobalAveragePooling2D(), [(5, 5, 3)],
     "single", {}),
    ("reshape", lambda K: K.layers.Reshape((-1, 4)), [(6, 6, 4)],
     "single", {}),
    ("zeropad2d", lambda K: K.layers.ZeroPadding2D((1, 2)), [(5, 5, 3)],
     "single", {}),
    ("upsample2d", lambda K: K.layers.UpSampling2D(2), [(5, 5, 3)],
     "single", {}),
    ("concat", lambda K: K.layers.Concatenate(axis=1), [(3, 2), (4, 2)],
     "list", {}),
    ("add", lambda K: K.layers.Add(), [(3, 2), (3, 2)], "list", {}),
    ("embedding", lambda K: K.layers.Embedding(50, 8), [(7,)], "single", {}),
    ("einsum", lambda K: K.layers.EinsumDense("abc,cd->abd", (None, 6)),
     [(5, 4)], "single", {}),
    ("lstm-state", lambda K: K.layers.LSTM(5, return_state=True), [(7, 3)],
     "single", {}),
    ("gru-seq", lambda K: K.layers.GRU(5, return_sequences=True), [(7, 3)],
     "single", {}),
    ("bidir-gru-state", lambda K: K.layers.Bidirectional(
        K.layers.GRU(5, return_state=True)), [(7, 3)], "single", {}),
    ("timedist", lambda K: K.layers.TimeDistributed(K.layers.Dense(3)),
     [(7, 4)], "single", {}),
    ("mha", lambda K: K.layers.MultiHeadAttention(2, 4), [(5, 8), (6, 8)],
     "mha", {}),
    ("mha-scores", lambda K: K.layers.MultiHeadAttention(2, 4),
     [(5, 8), (6, 8)], "mha", {"return_attention_scores": True}),
    ("attention", lambda K: K.layers.Attention(), [(5, 8), (6, 8)],
     "list", {}),
]


@pytest.mark.parametrize("make,shapes,call,kwargs", [
    pytest.param(m, s, c, k, id=i) for i, m, s, c, k in K2_CASES])
def test_keras2_layer(make, shapes, call, kwargs):
    K = _tf_keras()
    tensors = [K.Input(shape=s) for s in shapes]
    layer = make(K)
    if call == "single":
        out = layer(tensors[0], **kwargs)
    elif call == "list":
        out = layer(tensors, **kwargs)
    else:
        out = layer(tensors[0], tensors[1], **kwargs)
    expected = [tuple(t.shape) for t in (out if isinstance(out, (list, tuple))
                                          else [out])]
    config = layer.get_config()
    got = infer_output_shapes(type(layer).__name__, config,
                              [tuple(t.shape) for t in tensors], kwargs)
    assert got == expected
    if "data_format" in config:
        # Old Keras 2 files store data_format: null for the default.
        legacy = dict(config, data_format=None)
        got = infer_output_shapes(type(layer).__name__, legacy,
                                  [tuple(t.shape) for t in tensors], kwargs)
        assert got == expected


def test_keras2_input_layer():
    K = _tf_keras()
    x = K.Input(shape=(6, None))
    layer = x._keras_history.layer
    cfg = layer.get_config()
    assert "batch_input_shape" in cfg
    assert infer_output_shapes("InputLayer", cfg, []) == [tuple(x.shape)]


# --------------------------------------------------------------------------
# robustness: garbage in -> None, never an exception
# --------------------------------------------------------------------------

@pytest.mark.parametrize("class_name,config,shapes", [
    ("Lambda", {"trainable": True, "function": "x"}, [(None, 3)]),
    ("TFOpLambda", {"trainable": True, "function": "math.add"}, [(None, 3)]),
    ("MyCustomLayer", {"trainable": True}, [(None, 3)]),
    ("Dense", {"trainable": True, "units": "seven"}, [(None, 3)]),
    ("Dense", {"trainable": True, "units": 4}, [None]),
    ("Dense", {"trainable": True, "units": 4}, []),
    ("Conv2D", {"trainable": True, "filters": 4, "kernel_size": 9},
     [(None, 3, 3, 1)]),
    ("Conv2D", {"trainable": True, "filters": 4, "kernel_size": [3, 3]},
     [(None, 8, 3)]),
    ("Conv2D", {"trainable": True, "filters": 4, "kernel_size": [3, 3],
                "padding": "full"}, [(None, 8, 8, 3)]),
    ("Reshape", {"trainable": True, "target_shape": [5, -1]}, [(None, 12)]),
    ("Reshape", {"trainable": True, "target_shape": [-1, -1]}, [(None, 12)]),
    ("Permute", {"trainable": True, "dims": [1, 1]}, [(None, 2, 3)]),
    ("Concatenate", {"trainable": True, "axis": 5}, [(None, 2), (None, 2)]),
    ("Add", {"trainable": True}, [(None, 2), (None, 3)]),
    ("EinsumDense", {"trainable": True, "equation": "ab,bc", "output_shape": 4},
     [(None, 3)]),
    ("Bidirectional", {"trainable": True, "layer": "LSTM"}, [(None, 3, 4)]),
    ("TimeDistributed", {"trainable": True, "layer": {"class_name": "Nope",
                                                     "config": {}}},
     [(None, 3, 4)]),
    ("InputLayer", {"batch_shape": [None, -3]}, []),
    ("Dense", {"trainable": True, "units": 4}, [("a", "b")]),
    ("Dense", None, [(None, 3)]),
    (None, {}, [(None, 3)]),
])
def test_garbage_is_unknown(class_name, config, shapes):
    assert infer_output_shapes(class_name, config, shapes) is None


def fuzz_strategies(st, int_max: int, dim_max: int, rank_max: int) -> tuple:
    """(config value, input shape) strategies for fuzzing the shape rules: JSON-like
    garbage with small ints, and shapes of up to ``rank_max`` dims (None = unknown)."""
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, int_max),
                       st.text(max_size=3), st.floats(allow_nan=True))
    value = st.recursive(scalar, lambda c: st.one_of(
        st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c,
                                                 max_size=3)), max_leaves=8)
    dim = st.one_of(st.none(), st.integers(0, dim_max))
    return value, st.one_of(st.none(), st.lists(dim, max_size=rank_max))


def test_fuzzed_configs_never_raise():
    import hypothesis

    st = hypothesis.strategies
    from inspector.layers.shapes import _LAYERS

    value, shape = fuzz_strategies(st, int_max=40, dim_max=30, rank_max=5)
    keys = st.sampled_from(["units", "filters", "kernel_size", "strides",
                            "padding", "data_format", "axis", "target_shape",
                            "dims", "layer", "equation", "output_shape",
                            "pool_size", "size", "cropping", "return_state",
                            "return_sequences", "merge_mode", "axes", "n",
                            "trainable", "batch_shape", "num_heads"])

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(st.sampled_from(sorted(_LAYERS)),
                      st.dictionaries(keys, value, max_size=6),
                      st.lists(shape, max_size=3))
    def run(name, config, shapes):
        out = infer_output_shapes(name, config, shapes)
        assert out is None or all(isinstance(s, tuple) for s in out)

    run()
