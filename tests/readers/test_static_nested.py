"""The static reader against Keras on the saves that need care: nested models' node indices
(Keras 3 and tf-keras count them differently), dict inputs/outputs, legacy .h5 files where an
entry must be told apart as a layer or a ``keras.ops`` operation without a module, nested
weights in legacy .h5, and tf-keras TF-op calls."""
from __future__ import annotations

import pytest

import inspector
from tests.models.keras_truth import assert_matches_keras3, assert_matches_tf_keras, build_and_save


# --------------------------------------------------------------------------- Keras 3
def _sub(keras, sequential=False):
    from keras import layers

    if sequential:
        return keras.Sequential([keras.Input((5,)), layers.Dense(5, name="sd")], name="sub")
    ii = keras.Input((5,))
    return keras.Model(ii, layers.Dense(5, name="sd")(ii), name="sub")


def _nested_as_output(keras):
    i = keras.Input((5,), name="x")
    return keras.Model(i, _sub(keras)(i))


def _nested_twice_as_output(keras):
    i = keras.Input((5,), name="x")
    sub = _sub(keras)
    return keras.Model(i, sub(sub(i)))


def _first_call_is_output(keras):
    """Output ``sub:0`` while ``sub:1`` feeds another layer: a shifted index picks the wrong call."""
    from keras import layers

    i = keras.Input((5,), name="x")
    sub = _sub(keras)
    y = sub(i)
    return keras.Model(i, [y, layers.Dense(2, name="o")(sub(y))])


def _sequential_twice_as_output(keras):
    i = keras.Input((5,), name="x")
    sub = _sub(keras, sequential=True)
    return keras.Model(i, sub(sub(i)))


def _dict_io(keras):
    """Keras orders dict inputs/outputs by key, not by the order they were written in."""
    from keras import layers

    num, cat = keras.Input((5,), name="num"), keras.Input((3,), name="cat")
    h = layers.Concatenate(name="cc")([num, cat])
    return keras.Model({"num": num, "cat": cat},
                       {"score": layers.Dense(1, name="score")(h), "cls": layers.Dense(4, name="cls")(h)})


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("build", [_nested_as_output, _nested_twice_as_output, _first_call_is_output,
                                   _sequential_twice_as_output, _dict_io])
def test_keras3_nested_outputs_and_dict_io(keras, tmp_path, build, suffix):
    path = str(tmp_path / f"m{suffix}")
    model = build_and_save(keras, build, path)
    assert_matches_keras3(inspector.read(path), model)


def _legacy_ops_and_lookalikes(keras):
    """Operations beside layers whose configs look like operations' (no ``trainable``):
    SpatialDropout1D, and a custom layer with weights whose get_config skips super()."""
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="inspector_tests")
    class NoSuperConfig(layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1], self.units), name="k")
            self.b = self.add_weight(shape=(self.units,), name="b")

        def call(self, x):
            return ops.matmul(x, self.k) + self.b

        def get_config(self):
            return {"units": self.units, "name": self.name}

    i = keras.Input((8, 3), name="x")
    y = layers.SpatialDropout1D(0.1, name="sd")(i)
    y = ops.mean(y, axis=1) + 1.0
    y = ops.concatenate([y, y], axis=-1)
    y = NoSuperConfig(4, name="custom")(y)
    y = layers.Add(name="add_layer")([y, y])
    return keras.Model(i, layers.Dense(2, name="d")(y))


def _nested_sequential_h5(keras):
    """A legacy .h5 stores a nested Sequential's weights under <model>/<model>/<layer>/..."""
    from keras import layers

    inner = keras.Sequential([keras.Input((5,)), layers.Dense(5, name="i1"), layers.BatchNormalization(name="bn")],
                             name="inner")
    inner.get_layer("bn").trainable = False
    return keras.Sequential([keras.Input((3,)), layers.Dense(5, name="a"), inner], name="outer")


def _shared_encoder_h5(keras):
    from keras import layers

    enc = keras.Sequential([keras.Input((6,)), layers.Dense(4, name="e1"), layers.Dense(3, name="e2")], name="enc")
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    return keras.Model([a, b], layers.Dot(axes=1, name="sim")([enc(a), enc(b)]))


def _functional_twice_deep_h5(keras):
    """A model nested two deep: the legacy .h5 leaves the inner model's name out of weight paths."""
    from keras import layers

    ii = keras.Input((5,))
    inner = keras.Model(ii, layers.Dense(5, name="inner_d")(ii), name="inner")
    mi = keras.Input((5,))
    mid = keras.Model(mi, inner(inner(mi)), name="mid")
    i = keras.Input((5,), name="x")
    return keras.Model(i, layers.Dense(1, name="o")(mid(mid(i))))


@pytest.mark.parametrize("build", [_legacy_ops_and_lookalikes, _nested_sequential_h5, _shared_encoder_h5,
                                   _functional_twice_deep_h5])
def test_keras3_legacy_h5_layers_ops_and_nested_weights(keras, tmp_path, build):
    path = str(tmp_path / "m.h5")
    model = build_and_save(keras, build, path)
    g = inspector.read(path)
    assert_matches_keras3(g, model)
    nested = [n for n, a in g.nodes() if a["kind"] == "model"]
    for nid in nested:  # the nested model's own layers carry their weights, too
        layer = model.get_layer(g.node(nid)["name"])
        sub = g.subgraphs[g.node(nid)["subgraph"]]
        for inner in layer.layers:
            a = sub.node(sub.calls(inner.name)[0])
            assert (a["params_trainable"] or 0) + (a["params_non_trainable"] or 0) == inner.count_params()


# --------------------------------------------------------------------------- tf-keras
@pytest.fixture(scope="module")
def tfk():
    import tf_keras  # a test requirement: a missing install fails, never skips

    return tf_keras


def _tfk_deferred_sequential(K):
    block = K.Sequential([K.layers.Dense(4), K.layers.Dense(3)], name="block")
    i = K.Input((5,), name="x")
    return K.Model(i, K.layers.Dense(2, name="out")(block(i)))


def _tfk_sequential_twice(K):
    block = K.Sequential([K.layers.Dense(5, input_shape=(5,))], name="block")
    i = K.Input((5,), name="x")
    return K.Model(i, block(block(i)))


def _tfk_functional_twice_and_consumed(K):
    ii = K.Input((5,))
    sub = K.Model(ii, K.layers.Dense(5, name="sd")(ii), name="sub")
    i = K.Input((5,), name="x")
    y = sub(i)
    return K.Model(i, [y, K.layers.Dense(1, name="o")(sub(y))])


def _tfk_transfer(K):
    """The usual transfer-learning pattern: a keras.applications backbone inside a model."""
    base = K.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.35)
    i = K.Input((32, 32, 3), name="img")
    x = K.layers.GlobalAveragePooling2D(name="gap")(base(i))
    return K.Model(i, K.layers.Dense(3, name="cls")(x))


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
@pytest.mark.parametrize("build", [_tfk_deferred_sequential, _tfk_sequential_twice, _tfk_functional_twice_and_consumed,
                                   _tfk_transfer])
def test_tf_keras_nested_models(tfk, tmp_path, build, suffix):
    path = str(tmp_path / f"m{suffix}")
    model = build_and_save(tfk, build, path)
    assert_matches_tf_keras(inspector.read(path), model)


def test_tf_keras_one_tensor_tf_op(tfk, tmp_path):
    """tf-keras writes a TF-op call on one tensor unwrapped: [name, node, tensor, kwargs]."""
    L = tfk.layers
    i = tfk.Input((4,), name="x")
    model = tfk.Model(i, L.Dense(2, name="o")(L.Dense(4, name="d")(i) + 1.0))
    path = str(tmp_path / "op.h5")
    model.save(path)
    assert_matches_tf_keras(inspector.read(path), model)


def test_tf_keras_constant_first_and_compat_ops(tfk, tmp_path):
    """``1.0 - x`` (saved with a ``_CONSTANT_VALUE`` in place of a tensor) and the plain maths tf-keras
    saves under ``compat.v1`` names (transpose, floor_div) are read, with Keras's shapes."""
    import tensorflow as tf

    L = tfk.layers
    i = tfk.Input((4,), name="x")
    y = 1.0 - L.Dense(4, name="d")(i)
    y = tf.transpose(L.Reshape((2, 2), name="r")(y), [0, 2, 1]) // 2.0
    model = tfk.Model(i, L.Flatten(name="f")(y))
    path = str(tmp_path / "c.h5")
    model.save(path)
    g = inspector.read(path)
    assert len(g) == len(model.layers)
    assert_matches_tf_keras(g, model)
