"""The live paths on Keras's JAX backend, with TensorFlow made unimportable.

Each command runs as a user would (a fresh `inspector` process) with
``KERAS_BACKEND=jax`` and an import hook that refuses ``tensorflow`` and
``tf_keras`` (as on a machine where only JAX is installed). The truth is this
test process: Keras on TensorFlow computing the same model on the same inputs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT, user_lines

pytest.importorskip("jax")

BLOCKER = textwrap.dedent("""
    import sys
    class _NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tf_keras"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, _NoTensorFlow())
""")
RUN = ("import atexit, sys\n"
       "atexit.register(lambda: print('BACKEND=' + sys.modules['keras'].backend.backend() if 'keras' in sys.modules "
       "else 'BACKEND=none', 'TF=' + str('tensorflow' in sys.modules), file=sys.stderr))\n"
       "from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]; main()")


@pytest.fixture(scope="module")
def jax_cli(tmp_path_factory):
    d = tmp_path_factory.mktemp("no_tf")
    (d / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=f"{d}{os.pathsep}{ROOT}")

    def run(*args: str) -> subprocess.CompletedProcess:
        p = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, env=env,
                           timeout=300, cwd=ROOT)
        tail = [line for line in p.stderr.splitlines() if line.startswith("BACKEND=")]
        assert tail and tail[-1] in ("BACKEND=jax TF=False", "BACKEND=none TF=False"), p.stderr[-2000:]
        return p

    return run


@pytest.fixture(scope="module")
def files(tmp_path_factory, keras):
    from PIL import Image

    from samples.seed_models import customer_ticket_model

    d = tmp_path_factory.mktemp("backends")
    ticket = customer_ticket_model()
    ticket.save(d / "ticket.keras")
    rng = np.random.default_rng(0)
    data = {"title": (rng.random((12, 10000)) < 0.01).astype("float32"),
            "text_body": (rng.random((12, 10000)) < 0.02).astype("float32"),
            "tags": (rng.random((12, 100)) < 0.1).astype("float32")}
    np.savez(d / "tickets.npz", **data)
    keras.utils.set_random_seed(3)
    i = keras.Input((20, 24, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(i)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    cnn = keras.Model(i, keras.layers.Dense(2, name="out")(x))
    cnn.save(d / "cnn.keras")
    (d / "photos").mkdir()
    rng = np.random.default_rng(4)
    for k in range(5):
        Image.fromarray(rng.integers(0, 255, (31 + k, 40, 3), dtype=np.uint8)).save(d / "photos" / f"p{k}.png")
    return d, ticket, data, cnn


def _json(p: subprocess.CompletedProcess) -> dict:
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def test_load_summary_on_jax_equals_keras(jax_cli, files):
    d, ticket, _, _ = files
    s = _json(jax_cli("summary", str(d / "ticket.keras"), "--load", "--format", "json"))
    assert s["totals"]["params_total"] == ticket.count_params()
    shapes = {r["name"]: r["output_shapes"] for r in s["layers"]}
    for layer in ticket.layers:
        assert [list(shapes[layer.name][0])] == [list(layer.output.shape)], layer.name


def test_tracing_a_subclassed_model_on_jax_explains_the_seed_failure_as_on_tensorflow(jax_cli, files):
    from conftest import run_cli

    args = ("summary", "samples/seed_models.py:CustomerTicketModel", "--arg", "num_departments=4",
            "--input", "title=100", "--input", "text_body=100", "--input", "tags=10")
    on_jax = jax_cli(*args)
    on_tf = run_cli(*args, cwd=ROOT)
    assert on_jax.returncode == on_tf.returncode == 2
    err = [line for line in user_lines(on_jax.stderr) if line.startswith("error:")]
    assert err == [line for line in user_lines(on_tf.stderr) if line.startswith("error:")] and len(err) == 1
    assert "priority_scorer" in err[0]


def test_extract_and_features_on_jax_equal_keras(jax_cli, files, keras, tmp_path):
    d, ticket, data, _ = files
    out = tmp_path / "cut.keras"
    assert jax_cli("extract", str(d / "ticket.keras"), "--layer", "dense", "-o", str(out)).returncode == 0
    truth = keras.Model(ticket.inputs, ticket.get_layer("dense").output).predict(data, verbose=0)
    cut = keras.models.load_model(out)
    assert np.allclose(cut.predict(data, verbose=0), truth, atol=1e-5)
    feats = tmp_path / "f.npy"
    p = jax_cli("features", str(d / "ticket.keras"), "--layer", "dense", "-i", str(d / "tickets.npz"),
                "-o", str(feats))
    assert p.returncode == 0, p.stderr[-2000:]
    assert np.allclose(np.load(feats), truth, atol=1e-5)


def test_graft_on_jax_adds_the_head(jax_cli, files, keras, tmp_path):
    d, ticket, data, _ = files
    out = tmp_path / "graft.keras"
    p = jax_cli("graft", str(d / "ticket.keras"), "--at", "dense", "--head", "difficulty:3:softmax", "-o", str(out))
    assert p.returncode == 0, p.stderr[-2000:]
    g = keras.models.load_model(out)
    assert [tuple(o.shape) for o in g.outputs] == [tuple(o.shape) for o in ticket.outputs] + [(None, 3)]
    assert g.count_params() == ticket.count_params() + ticket.get_layer("dense").units * 3 + 3


def test_image_folder_features_on_jax_are_keras_load_img(jax_cli, files, keras, tmp_path):
    """Without TensorFlow, images are read as keras.utils.load_img reads them (Pillow, bilinear)."""
    d, _, _, cnn = files
    out = tmp_path / "img.npy"
    p = jax_cli("features", str(d / "cnn.keras"), "--layer", "gap", "-i", str(d / "photos"), "-o", str(out))
    assert p.returncode == 0, p.stderr[-2000:]
    names = sorted(os.listdir(d / "photos"))
    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(d / "photos" / n, target_size=(20, 24),
                                                                interpolation="bilinear")) for n in names])
    truth = keras.Model(cnn.inputs, cnn.get_layer("gap").output).predict(x, verbose=0)
    assert np.allclose(np.load(out), truth, atol=1e-4)


def test_stats_on_jax_equal_numpy(jax_cli, files, keras, tmp_path):
    d, ticket, data, _ = files
    out = tmp_path / "s.json"
    assert jax_cli("stats", str(d / "ticket.keras"), "-i", str(d / "tickets.npz"), "-o", str(out)).returncode == 0
    s = json.loads(out.read_text())["layers"]
    h = keras.Model(ticket.inputs, ticket.get_layer("dense").output).predict(data, verbose=0).astype("float64")
    assert s["dense"]["std"] == pytest.approx(h.std(), rel=1e-4) and s["dense"]["max"] == pytest.approx(h.max(), rel=1e-5)
