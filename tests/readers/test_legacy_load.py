"""``--load`` of legacy Keras 2 ``.h5`` files: through tf-keras when Keras 3 refuses them (shapes and
parameters equal tf-keras's own), one error line naming ``pip install tf-keras`` when it is missing,
never tf-keras for a file with code unless ``--unsafe``, and the same class name and "Saved with"
line whether the file is read statically or loaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
from conftest import ROOT, user_lines


@pytest.fixture(scope="module")
def tk():
    return pytest.importorskip("tf_keras")


@pytest.fixture(scope="module")
def files(tk, tmp_path_factory):
    """Legacy .h5 files saved by tf-keras (built here, never downloaded)."""
    import h5py

    d = tmp_path_factory.mktemp("legacy")
    L = tk.layers
    # LocallyConnected1D is gone from Keras 3: only tf-keras loads these two
    si = tk.Input((8, 3), name="sub_in")
    block = tk.Model(si, L.BatchNormalization(name="bn")(L.LocallyConnected1D(4, 3, name="lc")(si)), name="block")
    a, b = tk.Input((8, 3), name="a"), tk.Input((8, 3), name="b")
    s = L.Add(name="add")([block(a), block(b)])
    out = L.Dense(2, name="out")(L.Flatten(name="flat")(s))
    tk.Model([a, b], out, name="nested_lc").save(d / "nested.h5")
    tk.Sequential([L.Reshape((8, 3), input_shape=(24,), name="r"), L.LocallyConnected1D(4, 3, name="lc"),
                   L.Flatten(name="f"), L.Dense(2, name="d")], name="seq_lc").save(d / "seq.h5")
    # a Keras-2.3-style functional file: its config names the class "Model"; Keras 3 loads it
    x = tk.Input((4,), name="x")
    tk.Model(x, L.Dense(3, name="d")(x), name="k2").save(d / "k2.h5")
    with h5py.File(d / "k2.h5", "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["class_name"] = "Model"
        f.attrs["model_config"] = json.dumps(cfg)
    # a Lambda touching $INSPECTOR_SENTINEL when it runs, in a file only tf-keras loads
    os.environ["INSPECTOR_SENTINEL"] = str(d / "built")
    try:
        x = tk.Input((8, 3), name="x")
        y = L.Lambda(lambda t: (__import__("pathlib").Path(__import__("os").environ.get(
            "INSPECTOR_SENTINEL", __import__("os").devnull)).touch(), t)[1], name="touchy")(
            L.LocallyConnected1D(4, 3, name="lc")(x))
        tk.Model(x, y, name="lam").save(d / "lambda.h5")
    finally:
        del os.environ["INSPECTOR_SENTINEL"]
    return d


def _keras3_refuses(path: str) -> list:
    """Keras 3 cannot load ``path`` (the premise); returns the warnings it raised trying."""
    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Exception, match="LocallyConnected1D"):
            keras.models.load_model(path, compile=False)
    return caught


def _tf_keras_calls(model) -> dict[str, list]:
    """node id -> output shapes of every layer call inside ``model``, as tf-keras has them."""
    import tensorflow as tf

    out = {}
    for layer in model.layers:
        mine = [n for i, n in enumerate(layer._inbound_nodes) if f"{layer.name}_ib-{i}" in model._network_nodes]
        for k, node in enumerate(mine):
            nid = layer.name if len(mine) == 1 else f"{layer.name}:{k}"
            out[nid] = [tuple(t.shape) for t in tf.nest.flatten(node.outputs)]
    return out


def _params(model) -> tuple[int, int]:
    import numpy as np

    count = lambda ws: int(sum(np.prod(w.shape) for w in ws))  # noqa: E731
    return count(model.trainable_weights), count(model.non_trainable_weights)


@pytest.mark.parametrize("name", ["nested.h5", "seq.h5"])
def test_load_through_tf_keras_equals_tf_keras(files, tk, name):
    import inspector
    from inspector.cli.common import open_graph

    path = str(files / name)
    _keras3_refuses(path)
    truth = tk.models.load_model(path, compile=False)
    g = open_graph(path, load=True)
    static = inspector.read(path)
    assert list(g.store.nodes) == list(static.store.nodes)   # the structure every path shows
    shapes = {n: a["output_shapes"] for n, a in g.nodes()}
    for nid, want in _tf_keras_calls(truth).items():
        assert shapes[nid] == want, nid
    t = g.totals()
    assert (t["params_trainable"], t["params_non_trainable"]) == _params(truth)
    assert t["params_total"] == truth.count_params()
    assert [g.node(o)["output_shapes"][i] for o, i in g.outputs] == [tuple(truth.output.shape)]
    if name == "nested.h5":   # the nested model's inside too
        sub = g.subgraphs[g.node("block:0")["subgraph"]]
        inner = truth.get_layer("block")
        assert {n: a["output_shapes"] for n, a in sub.nodes()} == {**_tf_keras_calls(inner),
                                                                    "sub_in": [(None, 8, 3)]}
    assert any("tf-keras" in n and "LocallyConnected1D" in n for n in g.meta["notes"])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=180,
                          env=env or dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)


def test_cli_says_tf_keras_loaded_it(files, tk):
    from click.testing import CliRunner

    from inspector.cli.app import main

    r = CliRunner().invoke(main, ["summary", str(files / "seq.h5"), "--load"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    note = [line for line in r.stdout.splitlines() if "tf-keras" in line]
    assert note == [f"Note: loaded with tf-keras {tk.__version__} (Keras 3 could not load this legacy file: "
                    "Unknown layer: 'LocallyConnected1D')"]


def test_without_tf_keras_one_error_line(files, tmp_path):
    """tf-keras unimportable: one error line naming the way, exit 2, and none of Keras's warnings."""
    path = str(files / "seq.h5")
    assert any(issubclass(w.category, UserWarning) for w in _keras3_refuses(path))   # Keras does warn here
    fake = tmp_path / "no_tf_keras"
    fake.mkdir()
    (fake / "tf_keras.py").write_text("raise ImportError('No module named tf_keras (test stand-in)')\n")
    r = _cli("summary", path, "--load", env=dict(os.environ, PYTHONPATH=f"{fake}{os.pathsep}{ROOT}"))
    assert r.returncode == 2 and r.stdout == ""
    lines = user_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and "pip install tf-keras" in lines[0]
    assert "Warning" not in r.stderr and "input_shape" not in r.stderr and "Traceback" not in r.stderr


def test_code_never_goes_to_tf_keras_without_unsafe(files, monkeypatch):
    """tf-keras's HDF5 loader runs Lambda bytecode even in its safe mode: --allow-code is not enough."""
    from inspector.errors import InspectorError
    from inspector.readers.live.loading import load_file

    path, sentinel = str(files / "lambda.h5"), files / "sentinel"
    monkeypatch.setenv("INSPECTOR_SENTINEL", str(sentinel))
    with pytest.raises(InspectorError):
        load_file(path, allow_code=True, legacy=True)
    assert not sentinel.exists()
    loaded = load_file(path, unsafe=True, legacy=True)   # positive control: the sentinel detects a run
    assert loaded.tf_keras and sentinel.exists()


@pytest.mark.parametrize("name", ["k2.h5", "nested.h5"])
def test_class_and_saved_with_same_static_and_load(files, keras, name):
    import inspector
    from inspector.cli.common import open_graph
    from inspector.report.summary import footer

    path = str(files / name)
    static, loaded = inspector.read(path), open_graph(path, load=True)
    saved = lambda g: [line for line in footer(g) if line.startswith("Saved with")]  # noqa: E731
    assert saved(static) == saved(loaded) and saved(static)[0].startswith("Saved with Keras 2.")
    assert saved(static)[0].endswith("(h5-legacy)")
    assert static.class_name == loaded.class_name
    if name == "k2.h5":   # what Keras 3 itself calls the model it loads from a "Model" config
        assert static.class_name == type(keras.models.load_model(path, compile=False)).__name__ == "Functional"


def test_extract_says_it_needs_keras3(files):
    """The cutting commands run Keras 3 models: the refusal says so and where tf-keras does help."""
    from inspector.errors import BadModelFile
    from inspector.readers.live.resolve import open_keras_model

    with pytest.raises(BadModelFile, match="LocallyConnected1D.*legacy Keras 2 file.*need a model Keras 3 loads"):
        open_keras_model(str(files / "seq.h5"), functional=False)
