"""`inspector stats` and `inspector compare` as a user runs them: outputs, NaN report, bad input."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from conftest import run_cli, user_lines
from numerics_models import nan_model, ticket_data


@pytest.fixture(scope="module")
def files(tmp_path_factory, keras):
    from samples.seed_models import customer_ticket_model

    d = tmp_path_factory.mktemp("numerics_cli")
    customer_ticket_model().save(d / "ticket.keras")
    q = customer_ticket_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.quantize("int8")
    q.save(d / "ticket_int8.keras")
    np.savez(d / "tickets.npz", **ticket_data(30))
    np.save(d / "wrong.npy", np.zeros((5, 3), "float32"))
    m = nan_model()
    m.save(d / "nan.keras")
    x = np.random.default_rng(5).normal(0, 1, (40, 4)).astype("float32")
    np.save(d / "x.npy", x)
    log = keras.Model(m.inputs, m.get_layer("post").input).predict(x, verbose=0)
    return d, log


def test_stats_writes_the_file_and_names_the_first_nan_layer(files):
    d, log = files
    out = d / "nan_stats.json"
    p = run_cli("stats", str(d / "nan.keras"), "-i", str(d / "x.npy"), "-b", "16", "-o", str(out))
    assert p.returncode == 0, p.stderr
    lines = user_lines(p.stderr)
    assert lines[0] == (f"warning: first NaN/Inf in graph order: log ({int(np.isnan(log).sum())} NaN, "
                        f"{int(np.isinf(log).sum())} Inf)")
    assert lines[1].startswith(f"wrote {out}: 4 layer outputs over 40 rows") and len(lines) == 2   # no progress bar
    report = json.loads(out.read_text())
    assert report["first_nonfinite"]["node"] == "log" and list(report["layers"]) == ["x", "pre", "log", "post"]
    assert report["layers"]["log"]["nan"] == int(np.isnan(log).sum())


@pytest.mark.parametrize("args, message", [
    (["-i", "{d}/wrong.npy"], "error: {d}/wrong.npy: a single .npy array cannot feed 3 inputs"),
    (["-i", "{d}/tickets.npz", "--layer", "dense_9"], "error: {d}/ticket.keras: no layer named 'dense_9'"),
    (["-i", "{d}/missing.npz"], "error: {d}/missing.npz: no such file or directory"),
])
def test_stats_bad_input_is_one_line_exit_2_and_no_file(files, args, message):
    d, _ = files
    out = d / "never.json"
    p = run_cli("stats", str(d / "ticket.keras"), *[a.format(d=d) for a in args], "-o", str(out))
    assert p.returncode == 2
    lines = user_lines(p.stderr)
    assert len(lines) == 1 and lines[0].startswith(message.format(d=d)), lines
    assert not out.exists() and not [f for f in os.listdir(d) if f.startswith(".tmp")]


def test_compare_file_vs_the_code_that_builds_it_is_all_zero(files):
    d, _ = files
    p = run_cli("compare", str(d / "ticket.keras"), "samples/seed_models.py:customer_ticket_model",
                "-i", str(d / "tickets.npz"), "--format", "json", "--threshold", "0", "--exit-code", cwd=_root())
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["first_over"] is None and len(r["layers"]) == 7
    assert all(v["max_abs"] == 0 and v["cosine"] == 1 for v in r["layers"].values())


def test_compare_int8_copy_exit_code_and_output_file(files):
    d, _ = files
    out = d / "compare.json"
    p = run_cli("compare", str(d / "ticket.keras"), str(d / "ticket_int8.keras"), "-i", str(d / "tickets.npz"),
                "--exit-code", "-o", str(out))
    assert p.returncode == 1, p.stderr
    assert "first layer call over the threshold: dense (rel_l2 " in p.stdout
    r = json.loads(out.read_text())
    assert r["first_over"]["node"] == "dense"
    assert [k for k, v in r["layers"].items() if v["max_abs"] == 0] == ["title", "text_body", "tags", "concatenate"]


def _root() -> str:
    from conftest import ROOT

    return ROOT
