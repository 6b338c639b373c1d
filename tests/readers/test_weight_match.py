"""``inspector summary MODEL --weights FILE`` against what Keras itself does with
``model.load_weights(FILE)``: where the check says every layer loads, Keras loads the file; where it
names a layer that would not load, Keras raises, naming that layer (or, where its message names none,
at least fails). Keras 3 files (single, sharded, a full .keras) and Keras 2 files (tf-keras)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli, user_lines


def _build(k, units: int = 3, extra: bool = False, legacy: bool = False):
    """The same architecture in Keras 3 (``k`` = keras) or tf-keras: Dense, attention, batch norm,
    conv; ``units`` of the last Dense; ``extra``: one more Dense at the end."""
    x = k.Input((6, 8))
    h = k.layers.Dense(16)(x)
    h = k.layers.MultiHeadAttention(num_heads=2, key_dim=4)(h, h)
    h = k.layers.BatchNormalization()(h)
    h = k.layers.Conv1D(8, 3)(h)
    h = k.layers.GlobalAveragePooling1D()(h)
    out = k.layers.Dense(units)(h)
    if extra:
        out = k.layers.Dense(3)(out)
    return k.Model(x, out)


TF_KERAS = ("import sys, tf_keras as k\n"
            "_build(k).save_weights(sys.argv[1])\n"
            "_build(k, extra=True).save_weights(sys.argv[2])\n")


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    """Models (live, and as .keras files) and weights files: Keras 3 single, sharded and extra-layer
    ones; Keras 2 (tf-keras) ones written in a child process."""
    import tf_keras  # noqa: F401  (a test requirement: missing fails, never skips)

    out = tmp_path_factory.mktemp("wmatch")
    models = {"base": _build(keras), "wider": _build(keras, units=4), "extra": _build(keras, extra=True)}
    files = {}
    for name, model in models.items():
        files[name] = str(out / f"{name}.keras")
        model.save(files[name])
    files["w"] = str(out / "base.weights.h5")
    models["base"].save_weights(files["w"])
    files["w_extra"] = str(out / "extra.weights.h5")
    models["extra"].save_weights(files["w_extra"])
    files["sharded"] = str(out / "base.weights.json")
    models["base"].save_weights(files["sharded"], max_shard_size=0.000002)
    assert len(list(out.glob("base_*.weights.h5"))) > 1
    files["k2"], files["k2_extra"] = str(out / "k2.h5"), str(out / "k2_extra.h5")
    subprocess.run([sys.executable, "-c", _source() + TF_KERAS, files["k2"], files["k2_extra"]], check=True,
                   capture_output=True)
    return models, files


def _source() -> str:
    """``_build``'s code, for a child process (tf-keras) or a Python spec file."""
    import inspect

    return "from __future__ import annotations\n" + inspect.getsource(_build)


def _check(model_file: str, weights: str) -> tuple[int, dict]:
    r = run_cli("summary", model_file, "--weights", weights, "--format", "json")
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)["weights_check"]


def _keras_error(model, weights: str) -> str | None:
    """What Keras's own ``load_weights`` says: None when it loads, else its error message."""
    try:
        model.load_weights(weights)
    except Exception as e:  # Keras raises ValueError; anything else is a failure to load too
        return str(e)
    return None


@pytest.mark.parametrize("weights", ["w", "sharded", "base", "k2"])
def test_right_model_loads(saved, weights):
    models, files = saved
    code, result = _check(files["base"], files[weights])
    assert _keras_error(models["base"], files[weights]) is None
    assert code == 0 and result["summary"]["would_load"]
    owning = [layer for layer in models["base"].layers if layer.weights]
    assert [r["layer"] for r in result["layers"]] == [layer.name for layer in owning]
    assert all(r["status"] == "loaded" for r in result["layers"])
    assert result["summary"]["line"] == f"{len(owning)} of {len(owning)} layers would load"
    assert result["rules"] == ("legacy" if weights == "k2" else "keras3")


@pytest.mark.parametrize("weights", ["w", "sharded", "k2"])
def test_changed_layer_is_a_shape_mismatch(saved, weights):
    models, files = saved
    code, result = _check(files["wider"], files[weights])
    error = _keras_error(models["wider"], files[weights])
    changed = models["wider"].layers[-1].name
    bad = [r for r in result["layers"] if r["status"] != "loaded"]
    assert code == 1 and [(r["layer"], r["status"]) for r in bad] == [(changed, "shape mismatch")]
    assert error is not None and changed in error
    assert f"first problem: layer '{changed}': shape mismatch (8, 4) vs (8, 3)" in result["summary"]["line"]


def test_changed_layer_live_model_text(saved, tmp_path):
    """A Python spec (live) as MODEL; the text report names the layer, exit 1."""
    models, files = saved
    spec = tmp_path / "spec.py"
    spec.write_text(_source() + "import keras\nmodel = _build(keras, units=4)\n")
    r = run_cli("summary", f"{spec}:model", "--weights", files["w"])
    assert r.returncode == 1, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("4 of 5 layers would load; first problem: layer 'dense") and "(8, 4) vs (8, 3)" in last
    assert _keras_error(models["wider"], files["w"]) is not None


def test_extra_layer_in_model_is_missing(saved):
    models, files = saved
    extra = models["extra"].layers[-1].name
    code, result = _check(files["extra"], files["w"])
    error = _keras_error(models["extra"], files["w"])
    assert code == 1 and [(r["layer"], r["status"]) for r in result["layers"] if r["status"] != "loaded"] \
        == [(extra, "missing")]
    assert error is not None and extra in error   # "Layer 'dense_x' expected 2 variables, but received 0"
    # Keras 2 rules pair layers by position: Keras refuses the whole file, naming no layer
    code, result = _check(files["extra"], files["k2"])
    assert _keras_error(models["extra"], files["k2"]) is not None
    assert code == 1 and result["summary"]["loaded"] == 0
    assert result["summary"]["first_problem"].startswith("layer count mismatch")
    assert [r["status"] for r in result["layers"]][-1] == "missing"


def test_extra_layer_in_file_is_unexpected(saved):
    models, files = saved
    # Keras 3 ignores groups no layer asks for: the load succeeds, exit 0
    code, result = _check(files["base"], files["w_extra"])
    assert _keras_error(models["base"], files["w_extra"]) is None
    assert code == 0 and [r["status"] for r in result["layers"]][-1] == "unexpected"
    assert "unused" in result["summary"]["line"]
    # tf-keras files: a layer count mismatch, Keras fails
    code, result = _check(files["base"], files["k2_extra"])
    assert _keras_error(models["base"], files["k2_extra"]) is not None
    assert code == 1 and [r["status"] for r in result["layers"]][-1] == "unexpected"


def test_bad_weights_files_one_line_exit_2(saved, tmp_path):
    import numpy as np

    _, files = saved
    npy = str(tmp_path / "x.npy")
    np.save(npy, np.zeros(3))
    truncated = tmp_path / "cut.weights.h5"
    data = open(files["w"], "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    for bad in (npy, str(truncated)):
        r = run_cli("summary", files["base"], "--weights", bad)
        lines = user_lines(r.stderr)
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not r.stdout, r.stderr
        assert "Traceback" not in r.stderr
    # a weights-only MODEL has no layers to match: refused the same way
    r = run_cli("summary", files["w"], "--weights", files["w"])
    assert r.returncode == 2 and len(user_lines(r.stderr)) == 1
