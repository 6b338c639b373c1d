"""Shapes and dtypes of keras.ops nodes, tf-keras TF-op layers, ConvLSTM and
the categorical preprocessing layers, read from saved files and compared
with what Keras (or tf-keras) itself reports for every call.

Each model is built once per module with many calls as outputs, so that the
reader has to infer them (a consumer would have recorded the shape).
"""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

import inspector  # noqa: E402
from inspector.layers.shapes import (  # noqa: E402
    infer_output_dtypes,
    infer_output_shapes,
)
from tests.models.keras_truth import assert_matches_tf_keras, keras3_calls  # noqa: E402

O = keras.ops
L = keras.layers


def _flat(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _read_keras3(tmp_path_factory, inputs: list, cases: list) -> dict:
    """Build one Keras 3 model whose outputs are every case's result, save
    and read it: {case id: (our node attrs, Keras shapes, Keras dtypes)}."""
    keras.backend.clear_session()
    outs, names = [], {}
    for case_id, fn, *_ in cases:
        result = _flat(fn(*inputs))
        names[case_id] = result[0]._keras_history.operation.name
        outs += result
    model = keras.Model(inputs, outs)
    path = str(tmp_path_factory.mktemp("ops") / "m.keras")
    model.save(path)
    g = inspector.read(path)
    calls = keras3_calls(model)["calls"]
    found = {}
    for case_id, name in names.items():
        op = calls[name]["op"]
        tensors = op._inbound_nodes[0].output_tensors
        found[case_id] = (g.node(name), calls[name]["outputs"],
                          [t.dtype for t in tensors])
    return found


def _got(attrs: dict) -> list:
    return [None if s is None else tuple(s) for s in attrs["output_shapes"]]


# --------------------------------------------------------------------------
# keras.ops (Keras 3): x, y float32 (None, 6, 4); n int32 (None, 6, 4)
# --------------------------------------------------------------------------

def _gt0(x):
    return O.greater(x, 0.0)


OPS = [
    ("mean", lambda x, y, n: O.mean(x, axis=1)),
    ("sum-keepdims", lambda x, y, n: O.sum(x, axis=-1, keepdims=True)),
    ("max-axes", lambda x, y, n: O.max(x, axis=(1, 2))),
    ("min-all", lambda x, y, n: O.min(x)),
    ("prod-batch", lambda x, y, n: O.prod(x, axis=0)),
    ("var", lambda x, y, n: O.var(x, axis=-1)),
    ("std-keepdims", lambda x, y, n: O.std(x, axis=1, keepdims=True)),
    ("any", lambda x, y, n: O.any(_gt0(x), axis=1)),
    ("all", lambda x, y, n: O.all(_gt0(x))),
    ("logsumexp", lambda x, y, n: O.logsumexp(x, axis=1)),
    ("argmax", lambda x, y, n: O.argmax(x, axis=1)),
    ("argmin-keepdims", lambda x, y, n: O.argmin(x, axis=-1, keepdims=True)),
    ("norm", lambda x, y, n: O.norm(x, axis=-1)),
    ("average", lambda x, y, n: O.average(x, axis=1)),
    ("stack", lambda x, y, n: O.stack([x, y], axis=1)),
    ("split", lambda x, y, n: O.split(x, 2, axis=1)),
    ("split-indices", lambda x, y, n: O.split(x, [1, 4], axis=1)),
    ("tile", lambda x, y, n: O.tile(x, (1, 2, 1))),
    ("repeat", lambda x, y, n: O.repeat(x, 2, axis=1)),
    ("repeat-flat", lambda x, y, n: O.repeat(x[0], 3)),
    ("pad", lambda x, y, n: O.pad(x, ((0, 0), (1, 2), (0, 0)))),
    ("where", lambda x, y, n: O.where(O.greater(x, y), x, y)),
    ("clip", lambda x, y, n: O.clip(x, 0, 1)),
    ("cumsum", lambda x, y, n: O.cumsum(x, axis=1)),
    ("cumsum-flat", lambda x, y, n: O.cumsum(x[0])),
    ("flip", lambda x, y, n: O.flip(x, axis=1)),
    ("sort", lambda x, y, n: O.sort(x)),
    ("zeros_like", lambda x, y, n: O.zeros_like(x)),
    ("ones_like-int", lambda x, y, n: O.ones_like(x, dtype="int32")),
    ("one_hot", lambda x, y, n: O.one_hot(O.argmax(x, axis=-1), 5)),
    ("one_hot-axis", lambda x, y, n: O.one_hot(O.argmax(x, axis=-1), 3,
                                               axis=1)),
    ("einsum", lambda x, y, n: O.einsum("bij,bkj->bik", x, y)),
    ("einsum-implicit", lambda x, y, n: O.einsum("...j,kj", x, y[0])),
    ("moveaxis", lambda x, y, n: O.moveaxis(x, 1, 2)),
    ("swapaxes", lambda x, y, n: O.swapaxes(x, 1, 2)),
    ("top_k", lambda x, y, n: O.top_k(x, 2)),
    ("cast", lambda x, y, n: O.cast(x, "int32")),
    ("greater", lambda x, y, n: O.greater(x, y)),
    ("logical_and", lambda x, y, n: O.logical_and(_gt0(x), O.less(y, 0.0))),
    ("take-tensor", lambda x, y, n: O.take(x, O.argmax(y, axis=1), axis=1)),
    ("mean-int", lambda x, y, n: O.mean(n, axis=1)),
    ("sum-bool", lambda x, y, n: O.sum(_gt0(x), axis=1)),
    ("divide-int", lambda x, y, n: O.divide(n, n)),
    ("sqrt-int", lambda x, y, n: O.sqrt(n)),
    ("concat-mixed", lambda x, y, n: O.concatenate([x, n], axis=1)),
    ("add-mixed", lambda x, y, n: O.add(n, x)),
]
# rules that need the node's positional args (call_kwargs["__args__"])
OPS_WITH_ARGS = [
    ("getitem-int", lambda x, y, n: x[:, 0]),
    ("getitem-slices", lambda x, y, n: x[:, 1:4, ::2]),
    ("getitem-newaxis", lambda x, y, n: x[..., None]),
    ("getitem-batch", lambda x, y, n: x[0]),
    ("getitem-negative", lambda x, y, n: x[:, -1]),
    ("take-constant", lambda x, y, n: O.take(x, [0, 1], axis=1)),
    ("add-float-constant", lambda x, y, n: O.add(n, 1.5)),
    ("where-constant", lambda x, y, n: O.where(_gt0(x), n, 0.5)),
]


def _op_inputs():
    return [keras.Input((6, 4), name="x"), keras.Input((6, 4), name="y"),
            keras.Input((6, 4), dtype="int32", name="n")]


@pytest.fixture(scope="module")
def ops_read(tmp_path_factory):
    return _read_keras3(tmp_path_factory, _op_inputs(), OPS + OPS_WITH_ARGS)


@pytest.mark.parametrize("case", [c[0] for c in OPS])
def test_keras3_op(ops_read, case):
    attrs, shapes, dtypes = ops_read[case]
    assert (_got(attrs), attrs["output_dtypes"]) == (shapes, dtypes)


@pytest.mark.parametrize("case", [c[0] for c in OPS_WITH_ARGS])
def test_keras3_op_with_positional_args(ops_read, case):
    """The reader passes the node's constant positional args (``__args__``): exact shapes and dtypes."""
    attrs, shapes, dtypes = ops_read[case]
    assert "__args__" in (attrs.get("call_kwargs") or {})
    assert (_got(attrs), attrs["output_dtypes"]) == (shapes, dtypes)


def test_keras3_positional_args_rules():
    """The same rules fed as the reader would with ``__args__`` (the saved
    ``args``) and the saved input shapes/dtypes."""
    inputs = _op_inputs()
    outs = [_flat(fn(*inputs))[0] for _, fn in OPS_WITH_ARGS]
    config = json.loads(json.dumps(keras.Model(inputs, outs).get_config()))
    expected = {o._keras_history.operation.name: o for o in outs}
    checked = 0
    for entry in config["layers"]:
        if entry["name"] not in expected:
            continue
        node = entry["inbound_nodes"][0]
        tensors = [a for a in _walk(node["args"]) if _is_tensor(a)]
        kw = dict(node["kwargs"], __args__=node["args"])
        shapes = [tuple(t["config"]["shape"]) for t in tensors]
        dtypes = [t["config"]["dtype"] for t in tensors]
        out = expected[entry["name"]]
        assert infer_output_shapes(entry["class_name"], entry["config"],
                                   shapes, kw) == [tuple(out.shape)]
        rule = infer_output_dtypes(entry["class_name"], entry["config"],
                                   dtypes, kw)
        assert (rule[0] if rule else dtypes[0]) == out.dtype, entry["name"]
        checked += 1
    assert checked == len(OPS_WITH_ARGS)


def _walk(value):
    yield value
    if isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _is_tensor(value) -> bool:
    return isinstance(value, dict) and \
        value.get("class_name") == "__keras_tensor__"


# --------------------------------------------------------------------------
# ConvLSTM and categorical preprocessing layers (Keras 3)
# --------------------------------------------------------------------------

LAYERS = [
    ("convlstm2d-stride", lambda s, f, i, t: L.ConvLSTM2D(2, 3, strides=2)(s)),
    ("convlstm2d-seq-same", lambda s, f, i, t: L.ConvLSTM2D(
        2, 3, padding="same", return_sequences=True)(s)),
    ("convlstm2d-state", lambda s, f, i, t: L.ConvLSTM2D(
        3, (3, 2), dilation_rate=2, return_state=True)(s)),
    ("convlstm2d-cf", lambda s, f, i, t: L.ConvLSTM2D(
        2, 3, data_format="channels_first", return_sequences=True)(s)),
    ("convlstm1d", lambda s, f, i, t: L.ConvLSTM1D(4, 3, strides=2)(
        L.Reshape((4, 10, 30))(s))),
    ("convlstm3d-state", lambda s, f, i, t: L.ConvLSTM3D(
        2, 3, return_sequences=True, return_state=True)(
            L.Reshape((4, 10, 5, 6, 1))(s))),
    ("category-one_hot", lambda s, f, i, t: L.CategoryEncoding(
        5, output_mode="one_hot")(i)),
    ("category-multi_hot", lambda s, f, i, t: L.CategoryEncoding(
        5, output_mode="multi_hot")(i)),
    ("category-count", lambda s, f, i, t: L.CategoryEncoding(
        7, output_mode="count")(i)),
    ("hashed_crossing", lambda s, f, i, t: L.HashedCrossing(9)([i, t])),
    ("hashed_crossing-one_hot", lambda s, f, i, t: L.HashedCrossing(
        9, output_mode="one_hot")([i[:, :1], t[:, :1]])),
    ("integer_lookup", lambda s, f, i, t: L.IntegerLookup(
        vocabulary=[1, 2, 3])(i)),
    ("integer_lookup-multi_hot", lambda s, f, i, t: L.IntegerLookup(
        vocabulary=[1, 2, 3, 4, 5], output_mode="multi_hot")(i)),
    ("integer_lookup-count", lambda s, f, i, t: L.IntegerLookup(
        vocabulary=[1, 2], output_mode="count")(i)),
    ("integer_lookup-one_hot", lambda s, f, i, t: L.IntegerLookup(
        vocabulary=[1, 2, 3, 4, 5], output_mode="one_hot")(i)),
    ("integer_lookup-tf_idf", lambda s, f, i, t: L.IntegerLookup(
        vocabulary=[1, 2, 3], output_mode="tf_idf",
        idf_weights=[.1, .2, .3])(i)),
    ("string_lookup", lambda s, f, i, t: L.StringLookup(
        vocabulary=["a", "b"])(t)),
    ("string_lookup-padded", lambda s, f, i, t: L.StringLookup(
        max_tokens=10, vocabulary=["a", "b"], output_mode="count",
        pad_to_max_tokens=True)(t)),
    ("hashing", lambda s, f, i, t: L.Hashing(7)(t)),
    ("hashing-multi_hot", lambda s, f, i, t: L.Hashing(
        7, output_mode="multi_hot")(t)),
    ("discretization", lambda s, f, i, t: L.Discretization(
        bin_boundaries=[0., 1., 2.])(f)),
    ("discretization-one_hot", lambda s, f, i, t: L.Discretization(
        bin_boundaries=[0., 1.], output_mode="one_hot")(f)),
    ("discretization-count", lambda s, f, i, t: L.Discretization(
        bin_boundaries=[0., 1.], output_mode="count")(f)),
]


@pytest.fixture(scope="module")
def layers_read(tmp_path_factory):
    inputs = [keras.Input((4, 10, 10, 3), name="seq"),
              keras.Input((3,), name="f"),
              keras.Input((3,), dtype="int64", name="i"),
              keras.Input((3,), dtype="string", name="t")]
    return _read_keras3(tmp_path_factory, inputs, LAYERS)


@pytest.mark.parametrize("case", [c[0] for c in LAYERS])
def test_keras3_layer_read(layers_read, case):
    attrs, shapes, dtypes = layers_read[case]
    assert (_got(attrs), attrs["output_dtypes"]) == (shapes, dtypes)


def test_convlstm_example_from_the_brief():
    layer = L.ConvLSTM2D(2, 3, strides=2)
    got = infer_output_shapes("ConvLSTM2D", layer.get_config(),
                              [(None, 4, 10, 10, 3)])
    assert got == [tuple(layer(keras.Input((4, 10, 10, 3))).shape)] == [
        (None, 4, 4, 2)]


def test_hashing_one_hot_where_keras_disagrees_with_itself_is_unknown():
    """Hashing(one_hot) on (batch, 3): the symbolic shape is (batch, bins),
    the call returns (batch, 3, bins); we say unknown."""
    layer = L.Hashing(5, output_mode="one_hot")
    assert infer_output_shapes("Hashing", layer.get_config(),
                               [(None, 3)]) is None


# --------------------------------------------------------------------------
# tf-keras: TF functions between layers (TFOpLambda / SlicingOpLambda)
# x, y float32 (None, 6, 4); n int32 (None, 6, 4); i int32 (None, 6)
# --------------------------------------------------------------------------

def _tf_keras():
    try:
        import tensorflow as tf
        import tf_keras
    except Exception as err:  # pragma: no cover - depends on the venv
        pytest.skip(f"tf_keras not importable: {err}")
    return tf, tf_keras


TF_OPS = [
    ("add-scalar", lambda tf, x, y, n, i: x + 1.0),
    ("multiply", lambda tf, x, y, n, i: x * y),
    ("maximum-scalar", lambda tf, x, y, n, i: tf.maximum(x, 0.5)),
    ("relu", lambda tf, x, y, n, i: tf.nn.relu(x)),
    ("softmax", lambda tf, x, y, n, i: tf.nn.softmax(x, axis=1)),
    ("square", lambda tf, x, y, n, i: tf.math.square(x)),
    ("reduce_mean", lambda tf, x, y, n, i: tf.math.reduce_mean(x, axis=1)),
    ("reduce_sum-keepdims", lambda tf, x, y, n, i: tf.reduce_sum(
        x, axis=-1, keepdims=True)),
    ("reduce_max-axes", lambda tf, x, y, n, i: tf.reduce_max(x, axis=[1, 2])),
    ("reduce_prod-all", lambda tf, x, y, n, i: tf.reduce_prod(x)),
    ("reduce_sum-all-keepdims", lambda tf, x, y, n, i: tf.reduce_sum(
        x, keepdims=True)),
    ("reduce_any", lambda tf, x, y, n, i: tf.reduce_any(x > 0, axis=1)),
    ("reduce_mean-int", lambda tf, x, y, n, i: tf.reduce_mean(n, 1)),
    ("concat", lambda tf, x, y, n, i: tf.concat([x, y, x], axis=1)),
    ("stack", lambda tf, x, y, n, i: tf.stack([x, y], axis=1)),
    ("reshape", lambda tf, x, y, n, i: tf.reshape(x, (-1, 2, 12))),
    ("getitem-int", lambda tf, x, y, n, i: x[:, 0]),
    ("getitem-slices", lambda tf, x, y, n, i: x[:, 1:4, ::2]),
    ("getitem-newaxis", lambda tf, x, y, n, i: x[..., None]),
    ("getitem-batch", lambda tf, x, y, n, i: x[0]),
    ("getitem-negative", lambda tf, x, y, n, i: x[:, -3:, 1]),
    ("expand_dims", lambda tf, x, y, n, i: tf.expand_dims(x, -1)),
    ("matmul-transpose_b", lambda tf, x, y, n, i: tf.matmul(
        x, y, transpose_b=True)),
    ("argmax", lambda tf, x, y, n, i: tf.argmax(x, axis=-1)),
    ("argmin-default-axis", lambda tf, x, y, n, i: tf.argmin(x)),
    ("argmax-int32", lambda tf, x, y, n, i: tf.argmax(
        x, axis=1, output_type=tf.int32)),
    ("cast", lambda tf, x, y, n, i: tf.cast(x, tf.int32)),
    ("greater", lambda tf, x, y, n, i: x > y),
    ("one_hot", lambda tf, x, y, n, i: tf.one_hot(i, 5)),
    ("one_hot-axis-dtype", lambda tf, x, y, n, i: tf.one_hot(
        n, 3, axis=1, dtype=tf.int32)),
    ("where", lambda tf, x, y, n, i: tf.where(x > 0, x, y)),
    ("where-scalar", lambda tf, x, y, n, i: tf.where(x > 0, x, 0.0)),
    ("where-coordinates", lambda tf, x, y, n, i: tf.where(x > y)),
    ("split", lambda tf, x, y, n, i: tf.split(x, 2, axis=1)),
    ("split-sizes", lambda tf, x, y, n, i: tf.split(x, [1, -1], axis=1)),
    ("tile", lambda tf, x, y, n, i: tf.tile(x, [1, 2, 1])),
    ("repeat", lambda tf, x, y, n, i: tf.repeat(x, 2, axis=1)),
    ("top_k", lambda tf, x, y, n, i: tf.math.top_k(x, 2)),
    ("clip", lambda tf, x, y, n, i: tf.clip_by_value(x, 0., 1.)),
    ("truediv-int", lambda tf, x, y, n, i: n / 2),
    ("add-int", lambda tf, x, y, n, i: n + 1),
    ("add_n", lambda tf, x, y, n, i: tf.math.add_n([x, y])),
    ("logical_not", lambda tf, x, y, n, i: tf.logical_not(x > 0)),
    ("cumsum", lambda tf, x, y, n, i: tf.cumsum(x, axis=1)),
    ("zeros_like-int", lambda tf, x, y, n, i: tf.zeros_like(n)),
    ("bias_add", lambda tf, x, y, n, i: tf.nn.bias_add(x, tf.ones(4))),
    ("broadcast_to", lambda tf, x, y, n, i: tf.broadcast_to(
        x[:, :1], [2, 6, 4])),
]


@pytest.fixture(scope="module")
def tf_ops_read(tmp_path_factory):
    tf, K = _tf_keras()
    inputs = [K.Input((6, 4), name="x"), K.Input((6, 4), name="y"),
              K.Input((6, 4), dtype="int32", name="n"),
              K.Input((6,), dtype="int32", name="i")]
    outs, names = [], {}
    for case_id, fn in TF_OPS:
        result = _flat(fn(tf, *inputs))
        names[case_id] = result[0]._keras_history.layer.name
        outs += result
    model = K.Model(inputs, outs)
    path = str(tmp_path_factory.mktemp("tfops") / "m.h5")
    model.save(path)
    return model, inspector.read(path), names


def _tf_truth(layer) -> tuple[list, list]:
    tensors = _flat(layer._inbound_nodes[0].outputs)
    return [tuple(t.shape) for t in tensors], [t.dtype.name for t in tensors]


def test_tf_keras_ops_graph_matches(tf_ops_read):
    """Every call (ops chained into ops included) has tf-keras' shape."""
    model, g, _ = tf_ops_read
    assert_matches_tf_keras(g, model)
    for layer in model.layers:
        shapes, dtypes = _tf_truth(layer)
        assert g.node(layer.name)["output_dtypes"] == dtypes, layer.name


@pytest.mark.parametrize("case", [c[0] for c in TF_OPS])
def test_tf_keras_op(tf_ops_read, case):
    model, g, names = tf_ops_read
    attrs = g.node(names[case])
    expected = _tf_truth(model.get_layer(names[case]))
    assert (_got(attrs), attrs["output_dtypes"]) == expected


# TF functions tf-keras saves under ``compat.v1`` names, fed as the reader
# would (the static reader's audit currently refuses ``compat.`` functions)
TF_COMPAT = [
    ("transpose", lambda tf, x, y: tf.transpose(x, [0, 2, 1])),
    ("transpose-default", lambda tf, x, y: tf.transpose(x)),
    ("squeeze", lambda tf, x, y: tf.squeeze(x[:, :1], axis=[1])),
    ("gather", lambda tf, x, y: tf.gather(x, [0, 2, 1], axis=1)),
    ("gather-scalar", lambda tf, x, y: tf.gather(x, 1, axis=2)),
    ("gather-tensor", lambda tf, x, y: tf.gather(
        x, tf.argmax(y, axis=1), axis=1)),
    ("pad", lambda tf, x, y: tf.pad(x, [[0, 0], [1, 1], [2, 0]],
                                    mode="REFLECT")),
    ("norm", lambda tf, x, y: tf.norm(x, axis=-1)),
    ("floordiv", lambda tf, x, y: x // 2.0),
    ("shape", lambda tf, x, y: tf.shape(x)),
    ("size", lambda tf, x, y: tf.size(x)),
]


@pytest.mark.parametrize("case", [c[0] for c in TF_COMPAT])
def test_tf_keras_compat_ops(case):
    tf, K = _tf_keras()
    x, y = K.Input((6, 4), name="x"), K.Input((6, 4), name="y")
    fn = dict(TF_COMPAT)[case]
    model = K.Model([x, y], _flat(fn(tf, x, y)))
    config = json.loads(model.to_json())["config"]
    names = {e["name"] for e in config["layers"]}
    for entry in config["layers"]:
        if entry["class_name"] not in ("TFOpLambda", "SlicingOpLambda"):
            continue
        shapes, dtypes, kw = _tf_call(model, entry, names)
        layer = model.get_layer(entry["name"])
        expected = _tf_truth(layer)
        got = infer_output_shapes(entry["class_name"], entry["config"],
                                  shapes, kw)
        rule = infer_output_dtypes(entry["class_name"], entry["config"],
                                   dtypes, kw)
        assert (got, rule) == expected, entry["config"]["function"]


def _tf_call(model, entry: dict, names: set) -> tuple[list, list, dict]:
    """Input shapes/dtypes (from tf-keras) and tensor-free kwargs of an
    entry's first call, as the static reader builds them."""
    node = entry["inbound_nodes"][0]
    if node and isinstance(node[0], str):
        node = [node]
    refs, kw = [], {}
    for item in node:
        refs.append(item)
        for key, value in (item[3] if len(item) > 3 else {}).items():
            found = [v for v in _walk(value) if isinstance(v, list) and
                     len(v) >= 3 and isinstance(v[0], str) and
                     v[0] in names and isinstance(v[1], int)]
            refs += found
            if not found:
                kw[key] = value
    shapes, dtypes = [], []
    for name, ni, ti, *_ in refs:
        tensor = _flat(model.get_layer(name)._inbound_nodes[ni].outputs)[ti]
        shapes.append(tuple(tensor.shape))
        dtypes.append(tensor.dtype.name)
    return shapes, dtypes, kw


def test_tf_keras_lost_operand_is_unknown(tmp_path):
    """``x == y`` is saved without ``y``: the shape is unknown, the dtype
    bool."""
    tf, K = _tf_keras()
    x = K.Input((6, 4), name="x")
    model = K.Model(x, [x == 0.5])
    path = str(tmp_path / "eq.h5")
    model.save(path)
    attrs = inspector.read(path).node(model.layers[-1].name)
    assert attrs["output_shapes"] == [None]
    assert attrs["output_dtypes"] == ["bool"]


def test_tf_keras_tensor_arguments_are_unknown(tmp_path):
    """An axis given as a tensor is dropped from the saved kwargs; the rule
    must not fall back to its default axis."""
    tf, K = _tf_keras()
    x = K.Input((6, 4), name="x")
    a = K.Input((), dtype="int32", name="a", batch_size=1)
    outs = [tf.reduce_mean(x, axis=a[0]), tf.argmax(x, axis=a[0]),
            tf.concat([x, x], axis=a[0])]
    path = str(tmp_path / "dynamic.h5")
    K.Model([x, a], outs).save(path)
    g = inspector.read(path)
    for out in outs:
        assert g.node(out._keras_history.layer.name)["output_shapes"] == [None]


def test_tf_keras_layers_read(tmp_path):
    """ConvLSTM2D and the categorical layers in the Keras 2 dialect."""
    tf, K = _tf_keras()
    KL = K.layers
    seq = K.Input((4, 10, 10, 3), name="seq")
    f = K.Input((3,), name="f")
    i = K.Input((3,), dtype="int64", name="i")
    i1 = K.Input((1,), dtype="int64", name="i1")
    t = K.Input((3,), dtype="string", name="t")
    outs = [
        *KL.ConvLSTM2D(2, 3, strides=2, return_state=True)(seq),
        KL.ConvLSTM2D(2, 3, padding="same", return_sequences=True)(seq),
        KL.CategoryEncoding(5, output_mode="one_hot")(i1),
        KL.CategoryEncoding(5, output_mode="multi_hot")(i),
        KL.IntegerLookup(vocabulary=[1, 2, 3])(i),
        KL.IntegerLookup(vocabulary=[1, 2, 3, 4, 5],
                         output_mode="multi_hot")(i),
        KL.StringLookup(vocabulary=["a", "b"])(t),
        KL.StringLookup(vocabulary=["a", "b"], invert=True)(i),
        KL.StringLookup(vocabulary=["a", "b"], output_mode="count")(t),
        KL.Hashing(7)(t),
        KL.Hashing(7, output_mode="multi_hot")(t),
        KL.HashedCrossing(9)([i1, i1]),
        KL.HashedCrossing(9, output_mode="one_hot")([i1, i1]),
        KL.Discretization(bin_boundaries=[0., 1., 2.])(f),
        KL.Discretization(bin_boundaries=[0., 1.], output_mode="one_hot")(i1),
    ]
    model = K.Model([seq, f, i, i1, t], outs)
    path = str(tmp_path / "layers.h5")
    model.save(path)
    g = inspector.read(path)
    for layer in model.layers:
        attrs = g.node(layer.name)
        assert (_got(attrs), attrs["output_dtypes"]) == _tf_truth(layer), \
            layer.name


# --------------------------------------------------------------------------
# robustness: garbage in -> None, never an exception
# --------------------------------------------------------------------------

def test_fuzzed_ops_never_raise():
    import hypothesis

    st = hypothesis.strategies
    from test_shapes import fuzz_strategies

    from inspector.layers.seq import TF_FUNCTIONS
    from inspector.layers.shapes import _OPS

    value, shape = fuzz_strategies(st, int_max=12, dim_max=9, rank_max=4)
    keys = st.sampled_from([
        "axis", "keepdims", "newshape", "axes", "indices_or_sections",
        "repeats", "pad_width", "num_classes", "k", "source", "destination",
        "axis1", "axis2", "subscripts", "dtype", "shape", "perm", "y", "x",
        "slice_spec", "num_or_size_splits", "indices", "batch_dims", "depth",
        "multiples", "paddings", "output_mode", "num_tokens", "num_bins",
        "__args__", "filters", "kernel_size", "function"])
    names = sorted(_OPS) + ["TFOpLambda", "SlicingOpLambda", "ConvLSTM2D",
                            "CategoryEncoding", "HashedCrossing",
                            "IntegerLookup", "Discretization"]
    functions = st.sampled_from(sorted(TF_FUNCTIONS))

    @hypothesis.settings(max_examples=200, deadline=None, database=None)
    @hypothesis.given(st.sampled_from(names),
                      st.dictionaries(keys, value, max_size=5), functions,
                      st.lists(shape, max_size=3),
                      st.dictionaries(keys, value, max_size=4),
                      st.lists(st.sampled_from([None, "float32", "int32",
                                                "bool", 3]), max_size=3))
    def run(name, config, function, shapes, kw, dtypes):
        if name.endswith("OpLambda"):
            config = dict(config, function=function, trainable=True)
        out = infer_output_shapes(name, config, shapes, kw)
        assert out is None or all(isinstance(s, tuple) for s in out)
        dts = infer_output_dtypes(name, config, dtypes, kw)
        assert dts is None or all(d is None or isinstance(d, str)
                                  for d in dts)

    run()
