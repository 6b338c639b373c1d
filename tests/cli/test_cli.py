"""CLI behaviour: summary/export output against Keras, bad inputs, no TensorFlow import."""
from __future__ import annotations

import json
import os
import zipfile

import pytest
from conftest import run_cli

from tests.models.keras_truth import keras3_calls


def test_summary_json_matches_keras(sample_dir):
    model, path = sample_dir["customer_ticket_with_difficulty"]
    r = run_cli("summary", path, "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["totals"]["params_total"] == model.count_params()
    assert [i["name"] for i in data["inputs"]] == [t.name for t in model.inputs]
    assert [o["name"] for o in data["outputs"]] == [t._keras_history[0].name for t in model.outputs]
    shapes = {row["id"]: row["output_shapes"][0] for row in data["layers"]}
    for layer in model.layers:
        assert tuple(shapes[layer.name]) == tuple(layer.output.shape)
    assert data["keras_version"] == __import__("keras").__version__


def test_summary_text_and_markdown(sample_dir):
    model, path = sample_dir["customer_ticket_model"]
    for fmt in ("text", "markdown"):
        r = run_cli("summary", path, "--format", fmt)
        assert r.returncode == 0, r.stderr
        for layer in model.layers:
            assert layer.name in r.stdout
        assert f"{model.count_params():,}" in r.stdout
        assert "(None, 10000)" in r.stdout


def test_summary_does_not_import_tensorflow(sample_dir):
    r = run_cli("summary", sample_dir["nested_model"][1], check_tf=True)
    assert r.returncode == 0, r.stderr
    assert "TF_LOADED=False" in r.stderr


def test_help_does_not_import_tensorflow():
    r = run_cli("--help", check_tf=True)
    assert r.returncode == 0 and "summary" in r.stdout
    assert "TF_LOADED=False" in r.stderr
    for cmd in ("summary", "export"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0 and "Examples" in r.stdout


@pytest.mark.parametrize("fmt", ["json", "graphml"])
def test_export_roundtrip(sample_dir, tmp_path, fmt):
    import networkx as nx

    model, path = sample_dir["shared_layer_model"]
    out = str(tmp_path / f"g.{fmt}")
    r = run_cli("export", path, "-o", out)
    assert r.returncode == 0, r.stderr
    if fmt == "json":
        data = json.loads(open(out).read())
        ids = {n["id"] for n in data["nodes"]}
        assert len(data["edges"]) == sum(keras3_calls(model)["edges"].values())
        assert {layer.name for layer in model.layers} <= {i.split(":")[0] for i in ids}
        assert data["totals"]["params_total"] == model.count_params()
    else:
        g = nx.read_graphml(out)
        assert {layer.name for layer in model.layers} <= {n.split(":")[0] for n in g.nodes}
        assert nx.is_directed_acyclic_graph(g)


# --------------------------------------------------------------------------- bad inputs
def _zip(path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return str(path)


def _good_config(sample_dir) -> dict:
    with zipfile.ZipFile(sample_dir["functional_simple"][1]) as z:
        return json.loads(z.read("config.json"))


def _with_config(sample_dir, tmp_path, config) -> str:
    src = sample_dir["functional_simple"][1]
    out = tmp_path / "bad.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                data = json.dumps(config).encode() if not isinstance(config, bytes) else config
            zout.writestr(info, data)
    return str(out)


def bad_inputs(sample_dir, tmp_path):
    good = sample_dir["functional_simple"][1]
    raw = open(good, "rb").read()
    cfg = _good_config(sample_dir)
    unknown = json.loads(json.dumps(cfg))
    unknown["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "nope"
    notjson = tmp_path / "notjson"
    notjson.mkdir()
    (tmp_path / "notzip.keras").write_bytes(b"hello, this is not a model\n" * 10)
    (tmp_path / "trunc.keras").write_bytes(raw[: len(raw) // 2])
    return {
        "non-zip": (str(tmp_path / "notzip.keras"), "not a Keras model file"),
        "truncated zip": (str(tmp_path / "trunc.keras"), "zip"),
        "no config.json": (_zip(tmp_path / "noconf.keras", {"metadata.json": b"{}"}), "no config.json"),
        "config not JSON": (_with_config(sample_dir, notjson, b"{not json"), "not valid JSON"),
        "unknown layer": (_with_config(sample_dir, tmp_path, unknown), "unknown layer 'nope'"),
        "missing file": (str(tmp_path / "does-not-exist.keras"), "no such file"),
    }


def test_bad_inputs_exit_2_with_one_line(sample_dir, tmp_path):
    cases = bad_inputs(sample_dir, tmp_path)
    cfg = _good_config(sample_dir)
    cycle = json.loads(json.dumps(cfg))
    layers = cycle["config"]["layers"]
    layers[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = layers[2]["name"]
    d = tmp_path / "cyc"
    d.mkdir()
    cases["cycle"] = (_with_config(sample_dir, d, cycle), "cycle")
    for label, (path, expect) in cases.items():
        before = open(path, "rb").read() if os.path.exists(path) else None
        r = run_cli("summary", path)
        assert r.returncode == 2, (label, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, (label, r.stderr)
        assert lines[0].startswith("error: ") and path in lines[0], (label, lines[0])
        assert expect in lines[0], (label, lines[0])
        assert "Traceback" not in r.stderr
        if before is not None:
            assert open(path, "rb").read() == before


def test_export_failure_leaves_no_file(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"garbage")
    out = tmp_path / "g.json"
    r = run_cli("export", str(bad), "-o", str(out))
    assert r.returncode == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["x.keras"]


def test_export_refuses_to_overwrite_input(sample_dir, tmp_path):
    import shutil

    src = tmp_path / "m.json"
    shutil.copy(sample_dir["functional_simple"][1], src)
    before = src.read_bytes()
    r = run_cli("export", str(src), "-o", str(src))
    assert r.returncode == 2 and "refusing" in r.stderr
    assert src.read_bytes() == before
