"""Messages of the CLI: usage errors, layer references, heads, broken models, user code, help text.

Each bad input is one ``error:`` line and exit 2; the cheap ones are caught
before TensorFlow is imported (asserted with ``check_tf``).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import ROOT, run_cli, user_lines
from test_cli_errors import ATOL, SEED, TICKET_SPECS, one_error

from inspector.errors import InspectorError


# --------------------------------------------------------------------------- usage errors (item 10)
@pytest.mark.parametrize("args,start", [
    (("render", "{T}", "-o", "{o}/a.svg", "--depth", "-1"), "error: --depth: -1 is not in the range x>=0"),
    (("render", "{T}", "-o", "{o}/a.png", "--dpi", "0"), "error: --dpi: 0 is not in the range"),
    (("render", "{T}", "-o", "{o}/a.svg", "--rankdir", "XX"), "error: --rankdir: 'XX' is not one of 'TB', 'LR'"),
    (("features", "{T}", "--layer", "dense", "-i", "x.npy", "-o", "{o}/f.npy", "-b", "0"),
     "error: --batch-size: 0 is not in the range x>=1"),
    (("graft", "{T}", "--at", "dense", "--head", "d:3", "--seed", "-1", "-o", "{o}/g.keras"),
     "error: --seed: -1 is not in the range 0<=x<=4294967295"),
    (("render",), "error: MODEL: missing argument"),
    (("render", "{T}", "-o"), "error: -o: needs a value"),
])
def test_usage_errors_are_one_line(sample_dir, tmp_path, args, start):
    _, path = sample_dir["customer_ticket_model"]
    r = run_cli(*[a.format(T=path, o=tmp_path) for a in args])
    line = one_error(r)
    assert line.startswith(start) and line.endswith(f"(see inspector {args[0]} --help)"), line
    assert os.listdir(tmp_path) == []


def test_render_range_and_highlight_errors_name_the_model(sample_dir, tmp_path):
    _, path = sample_dir["customer_ticket_model"]
    _, shared = sample_dir["shared_layer_model"]
    out = str(tmp_path / "a.dot")
    assert one_error(run_cli("render", path, "-o", out, "--layer-range", "dense")).startswith(
        f"error: {path}: --layer-range 'dense': use FIRST:LAST")
    assert one_error(run_cli("render", path, "-o", out, "--highlight", "nosuch")).startswith(
        f"error: {path}: --highlight: no layer named 'nosuch'")
    line = one_error(run_cli("render", shared, "-o", out, "--highlight", "shared_dense"))
    assert line == (f"error: {shared}: --highlight: 'shared_dense' is called 2 times: name one call, "
                    "shared_dense:0 or shared_dense:1")
    assert run_cli("render", shared, "-o", out, "--highlight", "shared_dense:1").returncode == 0
    assert os.listdir(tmp_path) == ["a.dot"]


def test_help_text_choices_and_arg():
    r = run_cli("render", "--help")
    assert "[TB|LR|BT|RL]" in r.stdout and "[tb|" not in r.stdout
    r = run_cli("features", "--help")
    options = r.stdout[r.stdout.index("Options:"):]
    arg = options[options.index("--arg"):options.index("--layer")]
    assert "class or factory" in " ".join(arg.split())


# --------------------------------------------------------------------------- layer references (items 7, 8, 13)
def test_shared_layer_bare_name_is_refused(sample_dir, keras):
    from inspector.extract.graft import graft
    from inspector.extract.submodel import feature_extractor, split

    model, _ = sample_dir["shared_layer_model"]
    why = "'shared_dense' is called 2 times: name one call, shared_dense:0 or shared_dense:1"
    for cut in (lambda: feature_extractor(model, "shared_dense"), lambda: split(model, "shared_dense"),
                lambda: graft(model, "shared_dense", ["d:3"])):
        with pytest.raises(InspectorError, match=why):
            cut()
    x = np.random.default_rng(0).random((2, 8), dtype="float32")
    d = model.get_layer("shared_dense")
    assert np.allclose(feature_extractor(model, "shared_dense:0")(x), d(x), atol=ATOL)


def test_tail_cannot_end_upstream_of_the_cut(sample_dir):
    from inspector.extract.submodel import split

    model, _ = sample_dir["customer_ticket_model"]
    with pytest.raises(InspectorError, match="'title' is not downstream of 'dense'"):
        split(model, "dense", to="title")
    with pytest.raises(InspectorError, match="'dense' is not downstream of 'dense'"):
        split(model, "dense", to="dense")
    assert split(model, "concatenate", to="priority").tail.output.shape == (None, 1)


@pytest.mark.parametrize("args,needle", [
    (("extract", "{T}", "--layer", "nosuch", "-o", "{o}/e.keras"), "no layer named 'nosuch'"),
    (("extract", "{S}", "--layer", "shared_dense", "-o", "{o}/e.keras"), "'shared_dense' is called 2 times"),
    (("features", "{T}", "--layer", "dens", "-i", "{o}", "-o", "{o}/f.npy"), "did you mean dense"),
    (("graft", "{T}", "--at", "dense", "--head", "d:99999999999", "-o", "{o}/g.keras"),
     "head 'd' would have 6,499,999,999,935 parameters (64 inputs x 99,999,999,999 units + biases)"),
    (("graft", "{T}", "--at", "dense", "--head", "d:5000000", "-o", "{o}/g.keras"),
     "would have 325,000,000 parameters (64 inputs x 5,000,000 units + biases), more than the 268,435,456"),
    (("graft", "{T}", "--at", "dense", "--head", "d:3", "--head", "d:4", "-o", "{o}/g.keras"),
     "head name 'd' is given twice"),
    (("graft", "{T}", "--at", "dense", "--head", "priority:2", "-o", "{o}/g.keras"), "already a layer"),
    (("features", "{T}", "--layer", "dense", "--input", "inputs=3", "-o", "{o}/f.npy"),
     "did you mean --spec inputs=3?"),
])
def test_cheap_checks_come_before_tensorflow(sample_dir, tmp_path, args, needle):
    _, path = sample_dir["customer_ticket_model"]
    _, shared = sample_dir["shared_layer_model"]
    r = run_cli(*[a.format(T=path, S=shared, o=tmp_path) for a in args], check_tf=True)
    assert needle in one_error(r) and "TF_LOADED=False" in r.stderr
    assert os.listdir(tmp_path) == []


def test_features_output_over_its_data_says_data(sample_dir, tmp_path):
    _, path = sample_dir["functional_simple"]
    np.save(tmp_path / "x.npy", np.zeros((3, 3), "float32"))
    before = (tmp_path / "x.npy").read_bytes()
    r = run_cli("features", path, "--layer", "dense", "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "x.npy"))
    assert "output path is the input data; refusing" in one_error(r)
    assert (tmp_path / "x.npy").read_bytes() == before


def test_absurd_head_is_refused_with_its_size(sample_dir):
    from inspector.extract.graft import graft

    model, _ = sample_dir["customer_ticket_model"]
    with pytest.raises(InspectorError, match=r"would have 325,000,000 parameters \(64 inputs x 5,000,000 units"):
        graft(model, "dense", ["d:5000000"])
    with pytest.raises(InspectorError, match="99,999,999,999 units make at least 99,999,999,999 parameters"):
        graft(model, "dense", ["d:99999999999"])
    with pytest.raises(InspectorError, match="seed must be between 0 and 2\\*\\*32 - 1"):
        graft(model, "dense", ["d:3"], seed=-1)


# --------------------------------------------------------------------------- images (items 6, 11)
def test_unreadable_and_corrupt_images(keras, tmp_path, monkeypatch):
    import tensorflow as tf

    from inspector.extract.features import ImageSource

    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    src = ImageSource(str(tmp_path), [str(tmp_path / "bad.png")], (1, 8, 8, 3))
    with pytest.raises(InspectorError) as e:
        src.read(0, 1)
    assert str(e.value) == f"{tmp_path / 'bad.png'}: cannot decode image (not a valid JPEG, PNG, BMP or GIF file)"

    def denied(path):
        raise tf.errors.PermissionDeniedError(None, None, f"{path}; Permission denied")

    monkeypatch.setattr(tf.io, "read_file", denied)
    with pytest.raises(InspectorError) as e:
        src.read(0, 1)
    assert str(e.value) == f"{tmp_path / 'bad.png'}: cannot read image (permission denied)"


# --------------------------------------------------------------------------- broken subclassed model (item 9)
def test_broken_model_layers_before_the_failure_are_computed(keras, tmp_path):
    from inspector.extract.features import extract_features
    from samples import seed_models

    model = seed_models.broken_customer_ticket_subclassed()
    rng = np.random.default_rng(0)
    data = {"title": rng.random((5, 10000), dtype="float32"), "text_body": rng.random((5, 10000), dtype="float32"),
            "tags": rng.random((5, 100), dtype="float32")}
    np.savez(tmp_path / "d.npz", **data)
    mixing = model.mixing_layer.name
    extract_features(model, mixing, str(tmp_path / "d.npz"), str(tmp_path / "f.npy"), input_specs=TICKET_SPECS)
    want = model.mixing_layer(model.concat_layer([data["title"], data["text_body"], data["tags"]]))
    assert np.allclose(np.load(tmp_path / "f.npy"), want, atol=ATOL)
    with pytest.raises(InspectorError, match=f"cannot compute '{model.department_classifier.name}'.*"
                                             r"call 2 of self\.priority_scorer"):
        extract_features(model, model.department_classifier.name, str(tmp_path / "d.npz"),
                         str(tmp_path / "g.npy"), input_specs=TICKET_SPECS)


def test_cli_broken_model_features_and_extract(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", title=rng.random((4, 10000), dtype="float32"),
             text_body=rng.random((4, 10000), dtype="float32"), tags=rng.random((4, 100), dtype="float32"))
    spec = f"{SEED}:broken_customer_ticket_subclassed"
    specs = [a for s in TICKET_SPECS for a in ("--spec", s)]
    r = run_cli("features", spec, *specs, "--layer", "dense", "-i", str(tmp_path / "t.npz"),
                "-o", str(tmp_path / "b.npy"))
    assert r.returncode == 0 and user_lines(r.stderr)[0].startswith("wrote "), r.stderr
    assert len(user_lines(r.stderr)) == 1 and np.load(tmp_path / "b.npy").shape == (4, 64)
    inputs = [a for s in TICKET_SPECS for a in ("--input", s)]
    summary = one_error(run_cli("summary", spec, *inputs))
    line = one_error(run_cli("extract", spec, *inputs, "--layer", "dense_2", "-o", str(tmp_path / "e.keras")))
    assert line == summary.replace(f"{spec}: ", f"{spec}: cannot compute 'dense_2', the model's call fails "
                                                "before reaching it: ")


# --------------------------------------------------------------------------- user code, .h5 (items 11, 14, 15)
def test_spec_errors(tmp_path):
    (tmp_path / "m.py").write_text("import sys\n\ndef factory():\n    sys.exit(3)\n")
    line = one_error(run_cli("summary", f"{tmp_path}/m.py:factory"))
    assert "calling factory() called sys.exit(3)" in line and "m.py:4" in line
    r = run_cli("summary", "samples/seed_models.py:", cwd=ROOT, check_tf=True)
    assert one_error(r) == ("error: samples/seed_models.py: — no object name after ':' (give FILE.py:NAME, e.g. "
                            "a model, class or factory defined in the file)")
    assert "TF_LOADED=False" in r.stderr


def test_h5_outputs_have_no_legacy_warning(sample_dir, keras, tmp_path):
    model, path = sample_dir["customer_ticket_model"]
    out = str(tmp_path / "g.h5")
    r = run_cli("graft", path, "--at", "dense", "--head", "d:3", "--seed", "1", "-o", out)
    assert r.returncode == 0 and user_lines(r.stderr)[0] == f"wrote {out}", r.stderr
    assert "WARNING" not in r.stderr and "considered legacy" not in r.stderr and len(user_lines(r.stderr)) == 3
    new = keras.models.load_model(out, compile=False)
    x = [np.ones((2, 10000), "float32"), np.ones((2, 10000), "float32"), np.ones((2, 100), "float32")]
    assert np.allclose(new(x)[0], model(x)[0], atol=ATOL)


def test_weights_only_file_gets_one_message_everywhere(tmp_path, keras):
    """A weights file is no model: every command says the same thing, naming what to do."""
    from inspector.readers.weight_tree import WEIGHTS_ONLY

    i = keras.Input((4,), name="x")
    keras.Model(i, keras.layers.Dense(2, name="dense")(i)).save_weights(tmp_path / "w.weights.h5")
    np.save(tmp_path / "x.npy", np.zeros((3, 4), "float32"))
    w = str(tmp_path / "w.weights.h5")
    p = run_cli("summary", w)
    assert p.returncode == 0 and f"Note: {WEIGHTS_ONLY}" in p.stdout
    p = run_cli("render", w, "-o", str(tmp_path / "w.svg"))
    assert p.returncode == 0 and f"note: {w}: {WEIGHTS_ONLY}" in p.stderr
    for args in (["summary", w, "--load"], ["extract", w, "--layer", "dense", "-o", str(tmp_path / "c.keras")],
                 ["features", w, "--layer", "dense", "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.npy")],
                 ["stats", w, "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "s.json")]):
        p = run_cli(*args)
        assert p.returncode == 2 and user_lines(p.stderr) == [f"error: {w}: {WEIGHTS_ONLY}"], (args, p.stderr)
