"""The live reader against Keras itself, and against the static reader of the same model saved.

For graph models, ``inspector.read(model)`` and ``inspector.read(saved_file)``
must be the same DAG: node ids, edges, shapes, params. Both are also checked
against Keras's own objects (``keras_truth``).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

import inspector
from samples import seed_models
from tests.models.keras_truth import assert_matches_keras3

GRAPH_SAMPLES = [n for n in seed_models.SAMPLES if n != "my_model"]
# attributes whose value the static reader cannot always know (custom classes' outputs, code it never runs)
MAY_BE_UNKNOWN_STATICALLY = ("output_shapes", "macs", "activation_bytes")


def assert_same_graph(live, static, path="") -> None:
    """Same node ids, attribute names, values, edges and io; recursing into nested models."""
    assert set(live.nx.nodes) == set(static.nx.nodes), path
    assert live.inputs == static.inputs, path
    assert live.outputs == static.outputs, path
    assert live.layers == static.layers, path
    for nid, s in static.nx.nodes(data=True):
        a = live.node(nid)
        extra = set(a) - set(s)
        # a custom layer with sublayers gets a traced inside; its config may round-trip differently
        assert extra <= {"subgraph"} and (not extra or s.get("custom")), (path, nid, extra)
        assert set(s) <= set(a), (path, nid, set(s) - set(a))
        for k, v in s.items():
            if k == "config" or k == "weights":
                continue
            if k in MAY_BE_UNKNOWN_STATICALLY and (v is None or v == [None]):
                continue
            assert a[k] == v, (path, nid, k, a[k], v)
        if s.get("weights") is not None:
            assert [(w["shape"], w["trainable"]) for w in a["weights"]] == \
                   [(w["shape"], w["trainable"]) for w in s["weights"]], (path, nid)
    edges = lambda g: sorted((u, v, d["arg_index"], d["tensor_index"], d["shape"], d["dtype"])  # noqa: E731
                             for u, v, d in g.nx.edges(data=True))
    assert edges(live) == edges(static), path
    assert live.totals()["params_total"] == static.totals()["params_total"]
    for key, sub in static.subgraphs.items():
        assert_same_graph(live.subgraphs[key], sub, f"{path}/{key}")


@pytest.mark.parametrize("name", GRAPH_SAMPLES)
def test_sample_live_equals_static_and_keras(sample_dir, name):
    model, path = sample_dir[name]
    live = inspector.read(model)
    assert live.meta["format"] == "live" and not live.meta.get("traced")
    assert_same_graph(live, inspector.read(path))
    assert_matches_keras3(live, model)


def test_live_shapes_of_custom_layer_come_from_keras(sample_dir):
    """What the static reader must leave unknown (a custom layer's output), the live model knows."""
    model, _ = sample_dir["functional_with_subclassed_classifier"]
    g = inspector.read(model)
    clf = model.layers[-1]
    assert g.node(clf.name)["output_shapes"] == [tuple(model.output.shape)]
    # --expand-nested: the subclassed Classifier gets a traced inside, sharing its Dense
    sub = g.subgraphs[g.node(clf.name)["subgraph"]]
    assert sub.meta["traced"]
    assert [n for n in sub.layers if n not in sub.inputs] == [layer.name for layer in clf.layers]
    inner = sub.node(clf.dense.name)
    assert inner["output_shapes"] == [tuple(model.output.shape)]
    assert inner["params_trainable"] == clf.dense.count_params()
    assert g.totals()["params_total"] == model.count_params()


def test_shared_and_nested(sample_dir):
    model, _ = sample_dir["nested_model"]
    g = inspector.read(model)
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            sub = g.subgraphs[layer.name]
            assert [n for n in sub.layers] == [inner.name for inner in layer.layers]
            assert g.node(layer.name)["params_trainable"] == layer.count_params()


APPS = ["ResNet50", "MobileNetV2", "DenseNet121", "EfficientNetB0", "InceptionV3", "NASNetMobile",
        "ConvNeXtTiny", "Xception", "VGG16", "MobileNetV3Small"]


@pytest.mark.parametrize("app", APPS)
def test_keras_applications_live_equals_static(keras, tmp_path, app):
    keras.backend.clear_session()
    kwargs = {"input_shape": (224, 224, 3)} if app == "NASNetMobile" else {}
    model = getattr(keras.applications, app)(weights=None, **kwargs)
    path = str(tmp_path / f"{app}.keras")
    model.save(path)
    live = inspector.read(model)
    assert_same_graph(live, inspector.read(path))
    assert live.totals()["params_total"] == model.count_params()
    os.remove(path)


def test_unbuilt_sequential_needs_input(keras):
    model = keras.Sequential([keras.layers.Dense(3, name="d")], name="unbuilt")
    with pytest.raises(inspector.InspectorError, match="--input"):
        inspector.read(model)
    model.build((None, 5))
    g = inspector.read(model)
    assert g.layers == ["d"] and g.node("d")["output_shapes"] == [tuple(model.outputs[0].shape)]


def test_read_rejects_what_is_not_a_model():
    with pytest.raises(inspector.InspectorError):
        inspector.read(object())
    with pytest.raises(inspector.InspectorError):
        inspector.read(42)


# --------------------------------------------------------------------------- --load / --unsafe
@pytest.fixture(scope="module")
def lambda_file(tmp_path_factory):
    """A .keras file with a Lambda that touches $INSPECTOR_SENTINEL whenever Keras runs it."""
    from tests.models import trace_models as models_for_trace

    d = tmp_path_factory.mktemp("lambda")
    os.environ["INSPECTOR_SENTINEL"] = str(d / "built")  # building runs the Lambda once, here
    try:
        models_for_trace.lambda_model().save(str(d / "lambda.keras"))
    finally:
        del os.environ["INSPECTOR_SENTINEL"]
    return d / "lambda.keras", d / "sentinel"


def _run(args, sentinel, **kw):
    env = dict(os.environ, INSPECTOR_SENTINEL=str(sentinel), PYTHONPATH=ROOT)
    code = "import sys; from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=180, cwd=ROOT)


def test_lambda_never_runs_without_unsafe(lambda_file):
    path, sentinel = lambda_file
    refused = _run(["summary", str(path)], sentinel)
    assert refused.returncode == 2 and "--allow-code" in refused.stderr and "Traceback" not in refused.stderr
    static = _run(["summary", str(path), "--allow-code"], sentinel)
    assert static.returncode == 0 and "touchy" in static.stdout
    loaded = _run(["summary", str(path), "--load"], sentinel)
    assert loaded.returncode == 2
    err = [line for line in loaded.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "--load --unsafe" in err[0] and "Traceback" not in loaded.stderr
    assert not sentinel.exists()
    alone = _run(["summary", str(path), "--unsafe"], sentinel)
    assert alone.returncode == 2 and "--load" in alone.stderr and not sentinel.exists()


def test_lambda_runs_with_load_unsafe(lambda_file, keras):
    """Positive control: the sentinel does detect execution, and --load --unsafe gives the live graph."""
    path, sentinel = lambda_file
    r = _run(["summary", str(path), "--load", "--unsafe", "--format", "json"], sentinel)
    assert r.returncode == 0, r.stderr
    assert sentinel.exists()
    assert '"touchy"' in r.stdout


def test_load_gives_same_graph_as_static(sample_dir):
    _, path = sample_dir["customer_ticket_model"]
    r = run_cli("summary", path, "--load", "--format", "json")
    s = run_cli("summary", path, "--format", "json")
    assert r.returncode == 0 and s.returncode == 0, r.stderr
    import json

    a, b = json.loads(r.stdout), json.loads(s.stdout)
    assert [(x["id"], x["output_shapes"], x["params"]) for x in a["layers"]] == \
           [(x["id"], x["output_shapes"], x["params"]) for x in b["layers"]]
