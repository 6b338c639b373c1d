"""`inspector diff` against what Keras says changed."""
from __future__ import annotations

import json

from conftest import ROOT, run_cli

import inspector
from inspector.report.diff import diff, is_empty
from tests.models.keras_truth import save_units_pair


def test_difficulty_head_diff_is_exactly_the_new_head(sample_dir):
    a_model, a_path = sample_dir["customer_ticket_model"]
    b_model, b_path = sample_dir["customer_ticket_with_difficulty"]
    d = diff(inspector.read(a_path), inspector.read(b_path))
    new = {layer.name for layer in b_model.layers} - {layer.name for layer in a_model.layers}
    assert {n["id"] for n in d["added"]} == new
    assert d["removed"] == [] and d["changed"] == []
    head = b_model.get_layer(next(iter(new)))
    assert d["added"][0]["params"] == head.count_params()
    assert d["params"]["delta"] == b_model.count_params() - a_model.count_params()
    src = head._inbound_nodes[0].input_tensors[0]._keras_history[0].name
    assert d["connections_added"] == [[src, head.name, 0]]


def test_changed_units_are_reported(keras, tmp_path):
    m1, p1, m2, p2 = save_units_pair(keras, tmp_path)
    d = diff(inspector.read(p1), inspector.read(p2))
    (c,) = d["changed"]
    assert c["id"] == "out"
    assert c["changes"]["config"]["units"] == [2, 5]
    assert c["changes"]["params"] == [m1.get_layer("out").count_params(), m2.get_layer("out").count_params()]
    assert is_empty(diff(inspector.read(p1), inspector.read(p1)))


def test_diff_cli_json_and_exit_code(sample_dir):
    a, b = sample_dir["customer_ticket_model"][1], sample_dir["customer_ticket_with_difficulty"][1]
    r = run_cli("diff", a, b, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [n["id"] for n in json.loads(r.stdout)["added"]] == ["difficulty"]
    assert run_cli("diff", a, b, "--exit-code").returncode == 1
    assert run_cli("diff", a, a, "--exit-code").returncode == 0
    r = run_cli("diff", a, "/nonexistent.keras")
    assert r.returncode == 2 and r.stderr.startswith("error: /nonexistent.keras")


def test_saved_file_against_the_live_model_is_empty(sample_dir):
    """A saved sample and the Keras model it was saved from are the same model: no change reported
    (a live config's tuples are not a change from the file's lists, nor is a custom layer's shape
    that only the live model knows). my_model is left out: its file holds no graph (a subclassed
    model), the live model is traced."""
    from inspector.readers.live.read import read_model
    from samples.seed_models import SAMPLES

    for name in [n for n in SAMPLES if n != "my_model"]:
        model, path = sample_dir[name]
        d = diff(inspector.read(path), read_model(model))
        assert is_empty(d), (name, d)
        assert d["params"]["delta"] == 0


def test_diff_traces_python_specs_with_inputs():
    """A subclassed model that was never built needs --input to be traced; diff passes it on."""
    spec = "tests/models/trace_models.py:embed_model"
    r = run_cli("diff", spec, spec, "--input", "tokens=12:int32", "--exit-code", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "no structural differences" in r.stdout
    r = run_cli("diff", spec, spec, cwd=ROOT)
    assert r.returncode == 2 and "--input tokens=SHAPE" in r.stderr and len(r.stderr.splitlines()) == 1
