"""`extract_features` / `inspector features`: values against Keras, checks, shards, atomicity, memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_cli, user_lines

from inspector.errors import InspectorError
from inspector.extract.features import NpyWriter, extract_features, merge_parts, open_arrays, part_path, shard_rows

ATOL = 1e-5


def _ticket_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"title": rng.random((n, 10000), dtype="float32"), "text_body": rng.random((n, 10000), dtype="float32"),
            "tags": rng.random((n, 100), dtype="float32")}


def _truth(keras, model, layer, data):
    """Keras's own truncated model on the same rows."""
    trunc = keras.Model(model.inputs, model.get_layer(layer).output)
    return trunc.predict([data[t.name] for t in model.inputs] if len(model.inputs) > 1 else data, verbose=0,
                         batch_size=64)


@pytest.fixture(scope="module")
def ticket(sample_dir, tmp_path_factory):
    model, path = sample_dir["customer_ticket_model"]
    d = tmp_path_factory.mktemp("ticket")
    data = _ticket_data(37)
    np.savez(d / "data.npz", **data)
    np.savez_compressed(d / "data_z.npz", **data)
    return model, path, data, d


@pytest.mark.parametrize("npz", ["data.npz", "data_z.npz"])
def test_npz_features_match_keras(ticket, keras, tmp_path, npz):
    model, _, data, d = ticket
    out = str(tmp_path / "f.npz")
    r = extract_features(model, ["dense", "priority"], str(d / npz), out, batch_size=8)
    assert r.rows == 37 and r.outputs == {"dense": (37, 64), "priority": (37, 1)}
    got = np.load(out)
    assert sorted(got.files) == ["dense", "priority"]
    assert np.allclose(got["dense"], _truth(keras, model, "dense", data), atol=ATOL)
    assert np.allclose(got["priority"], _truth(keras, model, "priority", data), atol=ATOL)
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_npy_single_input_and_pruned_npz(sample_dir, keras, tmp_path):
    model, _ = sample_dir["mnist_model"]
    x = np.random.default_rng(0).random((50, 784), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    out = str(tmp_path / "f.npy")
    extract_features(model, "dense", str(tmp_path / "x.npy"), out, batch_size=16)
    assert np.allclose(np.load(out), _truth(keras, model, "dense", x), atol=ATOL)
    # a pruned extractor needs only the arrays its inputs name; others may be absent
    keras.utils.set_random_seed(0)
    a, b = keras.Input((6,), name="a"), keras.Input((4,), name="b")
    ha = keras.layers.Dense(5, name="ha")(a)
    two = keras.Model([a, b], keras.layers.Concatenate(name="cat")([ha, b]))
    av = np.random.default_rng(1).random((9, 6), dtype="float32")
    np.savez(tmp_path / "only_a.npz", a=av)
    extract_features(two, "ha", str(tmp_path / "only_a.npz"), str(tmp_path / "ha.npy"), batch_size=4)
    assert np.allclose(np.load(tmp_path / "ha.npy"), keras.Model(a, ha).predict(av, verbose=0), atol=ATOL)


@pytest.mark.parametrize("case,needle", [
    ("missing", "no array for input 'text_body'"),
    ("shape", "input 'tags': expected shape (None, 100)"),
    ("rows", "different numbers of rows"),
    ("npy", "cannot feed 3 inputs"),
    ("nofile", "no such file"),
    ("layer", "did you mean dense"),
])
def test_bad_data_is_reported_before_the_first_batch(ticket, tmp_path, case, needle):
    model, _, data, _ = ticket
    arrays = dict(data)
    if case == "missing":
        arrays.pop("text_body")
    elif case == "shape":
        arrays["tags"] = arrays["tags"][:, :50]
    elif case == "rows":
        arrays["tags"] = arrays["tags"][:5]
    src = str(tmp_path / "bad.npz")
    if case == "npy":
        src = str(tmp_path / "bad.npy")
        np.save(src, data["title"])
    elif case != "nofile":
        np.savez(src, **arrays)
    with pytest.raises(InspectorError) as e:
        extract_features(model, "dens" if case == "layer" else "dense", src, str(tmp_path / "o.npy"))
    assert needle in str(e.value)
    assert not (tmp_path / "o.npy").exists()


def test_shards_concatenate_to_a_single_run(ticket, tmp_path):
    model, _, _, d = ticket
    single = str(tmp_path / "all.npy")
    extract_features(model, "dense", str(d / "data.npz"), single, batch_size=8)
    n = 4
    parts = []
    for k in range(n):
        r = extract_features(model, "dense", str(d / "data.npz"), str(tmp_path / "f.npy"), batch_size=8,
                             shard=f"{k}/{n}")
        assert r.path == part_path(str(tmp_path / "f.npy"), k, n) and (r.start, r.rows) == (
            shard_rows(37, k, n)[0], shard_rows(37, k, n)[1] - shard_rows(37, k, n)[0])
        parts.append(r.path)
    assert sorted(parts) == parts                         # names sort in shard order
    whole = np.load(single)
    assert np.array_equal(np.concatenate([np.load(p) for p in parts]), whole)
    merged = merge_parts(parts, str(tmp_path / "merged.npy"), batch_rows=5)
    assert np.array_equal(np.load(merged), whole)
    with pytest.raises(InspectorError):
        extract_features(model, "dense", str(d / "data.npz"), str(tmp_path / "f.npy"), shard="4/4")


def test_empty_shard_and_progress_bar(ticket, tmp_path, capsys):
    model, _, _, d = ticket
    src = str(tmp_path / "three.npz")
    np.savez(src, **{k: v[:3] for k, v in np.load(d / "data.npz").items()})
    r = extract_features(model, ["dense", "priority"], src, str(tmp_path / "f.npz"), shard="0/5", progress=True)
    assert r.rows == 0 and np.load(r.path)["dense"].shape == (0, 64)    # no rows, but the right shape
    r = extract_features(model, "dense", src, str(tmp_path / "g.npy"), progress=True)
    err = capsys.readouterr().err
    assert "rows/s" in err and "3/3" in err


def test_image_directory_matches_keras_image_pipeline(keras, tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "b_sub").mkdir(parents=True)
    for i in range(7):
        img = rng.integers(0, 255, (30 + i, 41, 3), dtype=np.uint8)
        name = root / ("b_sub" if i % 3 == 0 else "") / f"im{i}.png"
        tf.io.write_file(str(name), tf.io.encode_png(img))
    keras.utils.set_random_seed(0)
    inp = keras.Input((24, 24, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inp)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    out = str(tmp_path / "emb.npy")
    r = extract_features(model, "conv", str(root), out, batch_size=3)
    ds = keras.utils.image_dataset_from_directory(str(root), labels=None, image_size=(24, 24), shuffle=False,
                                                  batch_size=3, verbose=False)
    want = keras.Model(inp, model.get_layer("conv").output).predict(ds, verbose=0)
    assert np.allclose(np.load(out), want, atol=ATOL)
    assert [os.path.join(str(root), f) for f in r.files] == ds.file_paths
    assert open(out + ".files.txt").read().split() == r.files


def test_interrupted_run_leaves_no_output(ticket, tmp_path, monkeypatch):
    model, _, _, d = ticket
    calls = {"n": 0}
    real = NpyWriter.write

    def boom(self, row, values):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(self, row, values)

    monkeypatch.setattr(NpyWriter, "write", boom)
    for out in ("f.npy", "f.npz"):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            extract_features(model, "dense", str(d / "data.npz"), str(tmp_path / out), batch_size=4)
    assert os.listdir(tmp_path) == []


def test_cli_features(ticket, tmp_path):
    model, path, data, d = ticket
    out = str(tmp_path / "f.npy")
    r = run_cli("features", path, "--layer", "dense", "--input", str(d / "data.npz"), "-o", out, "-b", "10",
                "--shard", "1/2")
    assert r.returncode == 0, r.stderr
    part = part_path(out, 1, 2)
    assert os.path.exists(part) and "rows 18..37" in r.stderr
    r = run_cli("features", path, "--layer", "dense", "--input", str(d / "data.npz"), "-o", str(tmp_path / "f.txt"))
    assert r.returncode == 2 and [line[:7] for line in user_lines(r.stderr)] == ["error: "], r.stderr
    r = run_cli("features", path, "--layer", "dense", "--input", str(tmp_path / "nope.npz"), "-o", out)
    assert r.returncode == 2 and "no such file" in r.stderr


# --------------------------------------------------------------------------- bounded memory
# Peak RSS is read from /proc/self/status (VmHWM): ru_maxrss of a child starts at its parent's peak (kept
# across fork and exec), so under a pytest process that has loaded TensorFlow it would hide the child's own.
CHILD = r"""
import json, os, sys
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, numpy as np
from inspector.extract.features import extract_features
keras.utils.set_random_seed(0)
inp = keras.Input((1024,), name="x")
h = keras.layers.Dense(64, activation="relu", name="feat")(inp)
model = keras.Model(inp, keras.layers.Dense(2, name="out")(h))
src, out = sys.argv[1], sys.argv[2]
warm = out + ".warm.npy"
np.save(out + ".small.npy", np.zeros((512, 1024), "float32"))
extract_features(model, "feat", out + ".small.npy", warm, batch_size=256)   # TF, graphs, buffers all warm
before = peak_mb()
r = extract_features(model, "feat", src, out, batch_size=256)
print(json.dumps({"before_mb": before, "after_mb": peak_mb(), "rows": r.rows}))
"""


def _make_npy(path: str, rows: int, cols: int = 1024) -> None:
    """A big float32 .npy written through NpyWriter's windowed memmap, chunk by chunk."""
    w = NpyWriter(path, rows, (cols,), np.float32)
    rng = np.random.default_rng(0)
    chunk = rng.random((4096, cols), dtype="float32")
    for start in range(0, rows, len(chunk)):
        w.write(start, chunk[: min(len(chunk), rows - start)])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for VmHWM")
def test_peak_memory_does_not_grow_with_data_size(tmp_path):
    peaks = {}
    for mb in (50, 500):
        rows = mb * 1024 * 1024 // (1024 * 4)
        src = str(tmp_path / f"x{mb}.npy")
        _make_npy(src, rows)
        assert open_arrays(src)[""].shape == (rows, 1024)
        env = dict(os.environ, PYTHONPATH=ROOT)
        p = subprocess.run([sys.executable, "-c", CHILD, src, str(tmp_path / f"f{mb}.npy")], capture_output=True,
                           text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        res = json.loads(p.stdout.strip().splitlines()[-1])
        assert res["rows"] == rows
        peaks[mb] = res["after_mb"]
        os.unlink(src)
    print("peak RSS MB by data MB:", peaks)
    # 10x the data (+450 MB): the peak must not follow it (noise allowance: 10% + 30 MB)
    assert peaks[500] < peaks[50] * 1.10 + 30, peaks


def test_cli_features_subclassed_model(tmp_path, keras):
    """A subclassed model named by a Python spec: traced twin (or eager hook), same values as its layers."""
    from samples import seed_models

    model = seed_models.customer_ticket_subclassed()
    data = _ticket_data(5)
    np.savez(tmp_path / "d.npz", **data)
    out = str(tmp_path / "mixing.npy")
    spec = os.path.join(ROOT, "samples", "seed_models.py") + ":customer_ticket_subclassed"
    r = run_cli("features", spec, "--layer", "mixing", "--input", str(tmp_path / "d.npz"), "-o", out)
    assert r.returncode == 0, r.stderr
    want = model.mixing_layer(model.concat_layer([data["title"], data["text_body"], data["tags"]]))
    assert np.allclose(np.load(out), want, atol=ATOL)
