"""Static weight trees of models whose config holds no layer graph (keras-hub backbones and
tasks, subclassed models) and of weights-only files, checked against Keras itself:
``count_params()``, the trainable split of ``model.trainable_weights``, and every
weight-owning sublayer (``_flatten_layers``) with its own parameter count."""
from __future__ import annotations

import collections
import json
import math

import pytest
from conftest import run_cli

import inspector


def _n(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def _hub_models():
    import keras_hub

    kh = keras_hub.models
    gemma = kh.GemmaBackbone(vocabulary_size=64, num_layers=2, num_query_heads=2, num_key_value_heads=1,
                             hidden_dim=16, intermediate_dim=32, head_dim=8)
    bert = kh.BertBackbone(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                           max_sequence_length=16)
    return {
        "gemma": gemma,
        "bert": bert,
        "gpt2": kh.GPT2Backbone(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                                max_sequence_length=16),
        "llama": kh.LlamaBackbone(vocabulary_size=50, num_layers=2, num_query_heads=2, num_key_value_heads=1,
                                  hidden_dim=8, intermediate_dim=16),
        "vit": kh.ViTBackbone(image_shape=(16, 16, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=8,
                              mlp_dim=16),
        # the first stack must have 64 filters (keras-hub's check); batch norms give non-trainable weights
        "resnet": kh.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[3],
                                    stackwise_num_filters=[64, 8], stackwise_num_blocks=[1, 1],
                                    stackwise_num_strides=[1, 2], block_type="basic_block",
                                    use_pre_activation=False, image_shape=(16, 16, 3)),
        "bert_classifier": kh.BertTextClassifier(backbone=bert, num_classes=3, preprocessor=None),
        "gemma_lm": kh.GemmaCausalLM(backbone=gemma, preprocessor=None),
    }


@pytest.fixture(scope="module")
def hub(keras, tmp_path_factory):
    """Every tiny keras-hub model, built once and saved as .keras."""
    out = tmp_path_factory.mktemp("hub")
    saved = {}
    for name, model in _hub_models().items():
        path = str(out / f"{name}.keras")
        model.save(path)
        saved[name] = (model, path)
    return saved


def own_rows(g) -> collections.Counter:
    """(layer name, own trainable, own non-trainable) of every node of the static tree owning weights."""
    rows: collections.Counter = collections.Counter()
    stack = [g]
    while stack:
        sub = stack.pop()
        stack.extend(sub.subgraphs.values())
        for nid, a in sub.store.nodes(data=True):
            if sub is g:   # the top node holds the whole model; its own weights are the model's vars
                continue
            own = [w for w in a["weights"] if "/" not in w["name"].removeprefix("vars/")]
            if own:
                rows[(a["name"], _n_static(own, True), _n_static(own, False))] += 1
    return rows


def _n_static(ws, trainable: bool) -> int:
    return sum(math.prod(w["shape"]) for w in ws if w["trainable"] == trainable)


def live_rows(model) -> collections.Counter:
    rows: collections.Counter = collections.Counter()
    for layer in model._flatten_layers(include_self=False):
        own = layer._trainable_variables + layer._non_trainable_variables
        if own:
            frozen = not layer.trainable
            rows[(layer.name, 0 if frozen else _n(v for v in own if v.trainable),
                  _n(v for v in own if frozen or not v.trainable))] += 1
    return rows


def assert_totals(g, model) -> None:
    t = g.totals()
    assert t["params_known"]
    assert t["params_total"] == model.count_params()
    assert t["params_trainable"] == _n(model.trainable_weights)
    assert t["params_non_trainable"] == _n(model.non_trainable_weights)


@pytest.mark.parametrize("name", ["gemma", "bert", "gpt2", "llama", "vit", "resnet", "bert_classifier", "gemma_lm"])
def test_keras_file_tree_matches_keras(hub, name):
    model, path = hub[name]
    g = inspector.read(path)
    assert g.meta["opaque"] and g.class_name == type(model).__name__
    assert_totals(g, model)
    assert own_rows(g) == live_rows(model)
    assert any("holds no data flow" in n for n in g.meta["notes"])
    for sub in [g, *g.subgraphs.values()]:
        assert sub.store.number_of_edges() == 0


def test_task_names_its_backbone_class(hub):
    model, path = hub["bert_classifier"]
    g = inspector.read(path)
    top = g.subgraphs[g.name]
    backbone = next(a for _, a in top.nodes() if a["name"] == model.backbone.name)
    assert backbone["class_name"] == type(model.backbone).__name__
    assert backbone["params_trainable"] + backbone["params_non_trainable"] == model.backbone.count_params()
    assert backbone["parent"] == "" and backbone["subgraph"] in top.subgraphs


def test_summary_depth_and_json_tree(hub):
    model, path = hub["gemma"]
    blocks = [layer for layer in model._flatten_layers(include_self=False, recursive=False)
              if layer.weights]
    r1 = run_cli("summary", path, "--depth", "1")
    assert r1.returncode == 0, r1.stderr
    lines = r1.stdout.splitlines()
    names = [layer.name for layer in blocks]
    for layer in blocks:   # a top-level row per weight-owning layer (or its run "first … last (×k)")
        row = next((line for line in lines if line.split() and line.split()[1:2] == [layer.name]), None)
        if row is None:
            row = next(line for line in lines if "(×" in line
                       and names.index(line.split()[1]) <= names.index(layer.name) <= names.index(line.split()[3]))
        assert f"{layer.count_params():,}" in row.split()
    assert "attention" not in r1.stdout
    r3 = run_cli("summary", path)
    assert "attention" in r3.stdout and "query" in r3.stdout
    rj = run_cli("summary", path, "--format", "json")
    data = json.loads(rj.stdout)
    by_id = {r["id"]: r for r in data["tree"]}
    assert data["totals"]["params_total"] == model.count_params()
    for r in data["tree"]:
        if r["depth"] > 0:
            assert r["parent"] in by_id and by_id[r["parent"]]["depth"] == r["depth"] - 1
    assert sum(r["params"] for r in data["tree"] if r["depth"] == 1) + by_id[""]["params_own"] \
        == model.count_params()


# --------------------------------------------------------------------------- weights-only files
@pytest.fixture(scope="module")
def functional_bn(keras):
    x = keras.Input((5,))
    h = keras.layers.Dense(4)(x)
    h = keras.layers.BatchNormalization()(h)
    return keras.Model(x, keras.layers.Dense(2)(h))


def test_keras3_weights_only_files(hub, functional_bn, tmp_path):
    gemma, _ = hub["gemma"]
    for model, name in ((gemma, "gemma"), (functional_bn, "fbn")):
        path = str(tmp_path / f"{name}.weights.h5")
        model.save_weights(path)
        g = inspector.read(path)
        assert_totals(g, model)
        assert own_rows(g) == live_rows(model)
        r = run_cli("summary", path)
        assert r.returncode == 0 and "holds weights only (no architecture)" in r.stdout


def test_sharded_weights_only_file(hub, tmp_path):
    model, _ = hub["llama"]
    path = str(tmp_path / "llama.weights.json")
    model.save_weights(path, max_shard_size=0.000002)
    assert len(list(tmp_path.glob("llama_*.weights.h5"))) > 1
    g = inspector.read(path)
    assert_totals(g, model)
    assert own_rows(g) == live_rows(model)
    assert "weights only" in g.meta["notes"][0]


def test_tf_keras_weights_only_file(tmp_path):
    import subprocess
    import sys

    import tf_keras  # noqa: F401  (a test requirement: missing fails, never skips)

    path = str(tmp_path / "k2.h5")
    code = ("import json, sys, numpy as np, tf_keras as k\n"
            "inner = k.Sequential([k.layers.Dense(4, input_shape=(3,)), k.layers.BatchNormalization()], name='inner')\n"
            "x = k.Input((5,)); m = k.Model(x, k.layers.Dense(2)(inner(k.layers.Dense(3)(x))))\n"
            "m.save_weights(sys.argv[1])\n"
            "print(json.dumps([m.count_params(), int(sum(np.prod(w.shape) for w in m.trainable_weights))]))\n")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True)
    total, trainable = json.loads(out.stdout.strip().splitlines()[-1])
    g = inspector.read(path)
    t = g.totals()
    assert (t["params_total"], t["params_trainable"]) == (total, trainable)
    assert g.meta["format"] == "h5-weights" and "weights only" in g.meta["notes"][0]
