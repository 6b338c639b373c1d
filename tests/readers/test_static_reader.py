"""The static reader against Keras itself: samples, keras.applications, legacy h5, tf-keras."""
from __future__ import annotations

import os

import pytest
from conftest import ROOT

import inspector
from samples import seed_models
from tests.models.keras_truth import (
    assert_matches_keras3,
    assert_matches_tf_keras,
    build_and_save,
    calls_per_layer,
    our_edges,
)

GRAPH_SAMPLES = [n for n in seed_models.SAMPLES if n != "my_model"]


@pytest.mark.parametrize("name", GRAPH_SAMPLES)
def test_sample_matches_keras(sample_dir, name):
    model, path = sample_dir[name]
    g = inspector.read(path)
    assert_matches_keras3(g, model)
    assert [i for i in g.inputs] == [t._keras_history[0].name for t in model.inputs]
    assert [o for o, _ in g.outputs] == [t._keras_history[0].name for t in model.outputs]


def test_customer_ticket_model_io(sample_dir):
    g = inspector.read(sample_dir["customer_ticket_model"][1])
    assert g.inputs == ["title", "text_body", "tags"]
    assert [o for o, _ in g.outputs] == ["priority", "department"]
    assert g.node("title")["output_shapes"] == [(None, 10000)]
    # the intermediate layer the seed reuses (model.layers[4]) and what it depends on
    model = sample_dir["customer_ticket_model"][0]
    assert g.layers[4] == model.layers[4].name
    assert g.ancestors(model.layers[4].name) == {"title", "text_body", "tags", "concatenate"}


def test_difficulty_head_adds_exactly_one_layer(sample_dir):
    a = inspector.read(sample_dir["customer_ticket_model"][1])
    b = inspector.read(sample_dir["customer_ticket_with_difficulty"][1])
    assert set(b.layers) - set(a.layers) == {"difficulty"}
    assert b.node("difficulty")["output_shapes"] == [(None, 3)]


def test_shared_layer_is_two_nodes_and_acyclic(sample_dir):
    import networkx as nx

    model, path = sample_dir["shared_layer_model"]
    g = inspector.read(path)
    assert nx.is_directed_acyclic_graph(g.nx)
    shared = {name: n for name, n in calls_per_layer(model).items() if n > 1}
    assert shared
    for name, n in shared.items():
        assert len(g.calls(name)) == n
    # Add()([x, x]) gives two parallel edges
    assert any(c == 2 for c in our_edges(g).values())


def test_subclassed_model_file_gives_weights_and_hint(sample_dir):
    model, path = sample_dir["my_model"]
    g = inspector.read(path)
    assert g.meta.get("opaque") and "--load" in g.meta["hint"]
    assert g.class_name == type(model).__name__
    assert g.totals()["params_total"] == model.count_params()


def test_custom_layer_params(sample_dir):
    model, path = sample_dir["functional_with_subclassed_classifier"]
    g = inspector.read(path)
    clf = model.layers[-1]
    a = g.node(clf.name)
    assert a["params_trainable"] == clf.count_params()
    assert g.totals()["params_total"] == model.count_params()


# --------------------------------------------------------------------------- keras.applications
APPS = ["ResNet50", "MobileNetV2", "DenseNet121", "EfficientNetB0", "InceptionV3", "NASNetMobile",
        "ConvNeXtTiny", "Xception", "VGG16", "MobileNetV3Small"]


@pytest.mark.parametrize("app", APPS)
def test_keras_applications(keras, tmp_path, app):
    keras.backend.clear_session()
    kwargs = {"input_shape": (224, 224, 3)} if app in ("NASNetMobile",) else {}
    model = getattr(keras.applications, app)(weights=None, **kwargs)
    path = str(tmp_path / f"{app}.keras")
    model.save(path)
    g = inspector.read(path)
    assert_matches_keras3(g, model)


# --------------------------------------------------------------------------- legacy h5
def _functional_k3(keras):
    from keras import layers

    i = keras.Input((16,), name="x")
    h = layers.Dense(8, activation="relu", name="d1")(i)
    h = layers.BatchNormalization(name="bn")(h)
    o = layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model(i, [o, h], name="k3_functional")


def _sequential_k3(keras):
    from keras import layers

    return keras.Sequential([keras.Input((5,)), layers.Dense(4, name="a"), layers.Dropout(0.1, name="drop"),
                             layers.Dense(2, name="b")], name="k3_seq")


def _ops_k3(keras):
    return seed_models.functional_with_ops()


@pytest.mark.parametrize("build", [_functional_k3, _sequential_k3, _ops_k3])
def test_keras3_legacy_h5(keras, tmp_path, build):
    path = str(tmp_path / "m.h5")
    model = build_and_save(keras, build, path)
    g = inspector.read(path)
    assert g.meta["format"] == "h5-legacy"
    assert_matches_keras3(g, model)


@pytest.fixture(scope="module")
def tfk():
    import tf_keras  # a test requirement: a missing install fails, never skips

    return tf_keras


def test_tf_keras_functional_h5(tfk, tmp_path):
    L = tfk.layers
    i = tfk.Input((12,), name="x")
    y = tfk.Input((4,), name="y")
    d = L.Dense(12, activation="relu", name="shared")
    h = d(d(i))  # shared layer applied twice in a row
    h = L.BatchNormalization(name="bn")(h)
    c = L.Concatenate(name="cat")([h, y])
    a = L.Add(name="add")([c, c])
    o = L.Dense(3, activation="softmax", name="out")(a)
    model = tfk.Model([i, y], [o, h], name="tfk_functional")
    path = str(tmp_path / "tfk.h5")
    model.save(path)
    g = inspector.read(path)
    assert g.meta["keras_version"].startswith("2.")
    assert_matches_tf_keras(g, model)


def test_tf_keras_sequential_h5(tfk, tmp_path):
    L = tfk.layers
    model = tfk.Sequential([L.Conv2D(4, 3, input_shape=(16, 16, 3), name="conv"), L.MaxPooling2D(name="pool"),
                            L.Flatten(name="flat"), L.Dense(5, name="dense")], name="tfk_seq")
    path = str(tmp_path / "tfks.h5")
    model.save(path)
    g = inspector.read(path)
    assert_matches_tf_keras(g, model)
    assert g.layers == [layer.name for layer in model.layers]


def test_static_read_does_not_import_tensorflow(sample_dir):
    import subprocess
    import sys

    path = sample_dir["customer_ticket_model"][1]
    code = ("import sys, inspector; g = inspector.read(sys.argv[1]); assert len(g) > 0; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_node_attribute_is_documented(sample_dir):
    """NODE_FIELDS (and the README table made from the same list) names every attribute the readers
    set: on every sample, read statically and live, and on the traced broken subclassed model."""
    from inspector.graph import EDGE_FIELDS, NODE_FIELDS
    from inspector.readers.live.read import read_model
    from inspector.readers.live.specs import InputSpec
    from inspector.readers.live.trace import trace

    seen_nodes, seen_edges = set(), set()

    def walk(g):
        for _, a in g.nodes():
            seen_nodes.update(a)
        seen_edges.update(k for _, _, d in g.store.edges(data=True) for k in d)
        for sub in g.subgraphs.values():
            walk(sub)

    for model, path in sample_dir.values():
        walk(inspector.read(path))
        walk(read_model(model))
    broken = seed_models.broken_customer_ticket_subclassed()
    walk(trace(broken, [InputSpec("title", (10000,), "float32"), InputSpec("text_body", (10000,), "float32"),
                        InputSpec("tags", (100,), "float32")]).graph)
    assert seen_nodes - set(NODE_FIELDS) == set()
    assert seen_edges - set(EDGE_FIELDS) == set()
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    schema = readme[readme.index("## Graph schema"):readme.index("## Opening untrusted models")]
    assert [k for k in NODE_FIELDS if f"`{k}`" not in schema] == []
