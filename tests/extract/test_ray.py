"""Feature extraction on Ray Data (`inspector.extract.ray_engine`): the same rows as the
single-process path bit for bit, Parquet in and out, a user's own dataset, killed workers,
workers that cannot build the model, interrupted runs.

One local Ray cluster (2 CPUs, no dashboard) serves the module; data stays tiny, since each
run starts fresh worker processes that import TensorFlow."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from inspector import extract_features

ray = pytest.importorskip("ray")

from inspector.errors import InspectorError  # noqa: E402
from inspector.extract import ray_engine  # noqa: E402

IMAGE = (16, 16, 3)
# Ray Data's DataContext warns about its own deprecated fields as it copies itself: not ours to act on.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray\..*")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def image_model(keras, tmp_path_factory):
    """A small CNN, saved: conv features (3-D per row) and pooled ones (a vector)."""
    keras.utils.set_random_seed(0)
    x = keras.Input(IMAGE, name="pixels")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(keras.layers.Rescaling(1 / 255)(x))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(keras.layers.MaxPooling2D()(h))
    out = keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling2D(name="gap")(h))
    model = keras.Model(x, out)
    path = str(tmp_path_factory.mktemp("img_model") / "cnn.keras")
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """23 images of assorted sizes (resized on reading), PNG and JPEG, in nested folders."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(23):
        sub = root / ("a" if i % 3 else "b") / ("deep" if i % 5 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        h, w = 12 + int(rng.integers(0, 20)), 12 + int(rng.integers(0, 20))
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        jpeg = i % 4 == 0
        data = tf.io.encode_jpeg(img) if jpeg else tf.io.encode_png(img)
        tf.io.write_file(str(sub / f"img{i:02d}.{'jpg' if jpeg else 'png'}"), data)
    return str(root)


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    """The seed ticket model's data, as samples/build.py writes it (uint8 0/1 arrays in an .npz)."""
    from samples.build import write_ticket_data

    return str(write_ticket_data(tmp_path_factory.mktemp("tickets"), num_samples=40))


def _no_temp_files(directory) -> bool:
    return not [f for f in os.listdir(directory) if f.startswith(".tmp")]


def _parquet_rows(path: str) -> dict[str, np.ndarray]:
    """A Parquet output read back with pyarrow alone, in row_id order, each column as an array."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path).sort_by("row_id")
    out = {"row_id": table.column("row_id").to_numpy()}
    for name in table.column_names[1:]:
        col = table.column(name).combine_chunks()
        if isinstance(col.type, pa.ExtensionType):
            out[name] = col.to_numpy_ndarray()
        elif pa.types.is_fixed_size_list(col.type):
            out[name] = col.flatten().to_numpy().reshape(len(col), col.type.list_size)
        else:
            out[name] = col.to_numpy()
    return out


def test_image_folder_matches_single_process_bit_for_bit(cluster, image_model, image_dir, tmp_path):
    _, path = image_model
    single, dist = str(tmp_path / "single.npz"), str(tmp_path / "ray.npz")
    extract_features(path, ["conv2", "gap"], image_dir, single, batch_size=5)
    r = ray_engine.run(path, ["conv2", "gap"], image_dir, dist, batch_size=5, num_workers=2)
    want, got = np.load(single), np.load(dist)
    assert sorted(got.files) == sorted(want.files) == ["conv2", "gap"]
    assert got["gap"].shape == (23, 8) and got["conv2"].shape == (23, 5, 5, 8)
    for k in want.files:
        assert np.array_equal(got[k], want[k]), k
    assert (r.rows, r.num_workers, r.outputs["gap"]) == (23, 2, (23, 8))
    assert open(dist + ".files.txt").read() == open(single + ".files.txt").read()
    assert _no_temp_files(tmp_path)


def test_ticket_npz_matches_single_process_bit_for_bit(cluster, sample_dir, tickets, tmp_path):
    _, path = sample_dir["customer_ticket_model"]
    single, dist = str(tmp_path / "single.npz"), str(tmp_path / "ray.npz")
    extract_features(path, ["dense", "priority"], tickets, single, batch_size=16)    # 16 + 16 + 8 rows
    ray_engine.run(path, ["dense", "priority"], tickets, dist, batch_size=16, num_workers=2)
    want, got = np.load(single), np.load(dist)
    assert sorted(got.files) == ["dense", "priority"] and got["dense"].shape == (40, 64)
    assert all(np.array_equal(got[k], want[k]) for k in want.files)


def test_parquet_input_and_output_match_single_process(cluster, sample_dir, tickets, tmp_path):
    """Parquet in (two files, several row groups, list columns) and out (row_id + one column per layer)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, path = sample_dir["customer_ticket_model"]
    arrays = dict(np.load(tickets))
    src = tmp_path / "tickets"
    src.mkdir()
    for i, (a, b) in enumerate([(0, 25), (25, 40)]):
        cols = {k: pa.FixedSizeListArray.from_arrays(pa.array(v[a:b].reshape(-1)), v.shape[1])
                for k, v in arrays.items()}
        pq.write_table(pa.table(cols), src / f"part-{i}.parquet", row_group_size=7)
    (src / "_SUCCESS").write_text("")
    single = str(tmp_path / "single.npz")
    extract_features(path, ["dense", "priority"], tickets, single, batch_size=16)
    out = str(tmp_path / "feats")
    r = ray_engine.run(path, ["dense", "priority"], str(src), out, fmt="parquet", batch_size=16, num_workers=1)
    got, want = _parquet_rows(out), np.load(single)
    assert r.rows == 40 and np.array_equal(got["row_id"], np.arange(40))          # every row once
    assert np.array_equal(got["dense"], want["dense"]) and np.array_equal(got["priority"], want["priority"])
    assert _no_temp_files(tmp_path)
    with pytest.raises(InspectorError, match="already exists"):                      # never merged into
        ray_engine.run(path, "dense", str(src), out, fmt="parquet")


def test_features_on_a_users_ray_dataset_equals_keras_predict(cluster, keras, image_model):
    model, path = image_model
    x = np.random.default_rng(1).integers(0, 256, (30, *IMAGE)).astype("float32")
    ds = ray_engine.features(ray.data.from_numpy(x), path, "gap", batch_size=8, num_workers=1)
    rows = ds.take_all()
    assert len(rows) == 30 and set(rows[0]) == {"data", "gap"}      # the user's column passes through
    data = np.stack([r["data"] for r in rows])
    truth = keras.Model(model.inputs, model.get_layer("gap").output).predict(data, verbose=0)
    assert np.allclose(np.stack([r["gap"] for r in rows]), truth, atol=1e-5)
    assert sorted(map(bytes, data)) == sorted(map(bytes, x))                          # each input row once


def test_features_with_row_ids_equal_the_single_process_run_bit_for_bit(cluster, image_model, tmp_path):
    """Blocks of 10 rows against a batch grid of 8: each row is still computed where the single run computes it."""
    _, path = image_model
    x = np.random.default_rng(3).integers(0, 256, (30, *IMAGE)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    extract_features(path, "conv2", str(tmp_path / "x.npy"), str(tmp_path / "single.npy"), batch_size=8)
    items = [{"row_id": i, "pixels": x[i], "label": i % 3} for i in range(30)]
    ds = ray_engine.features(ray.data.from_items(items, override_num_blocks=3), path, "conv2", batch_size=8)
    rows = sorted(ds.take_all(), key=lambda r: r["row_id"])
    assert [r["row_id"] for r in rows] == list(range(30)) and [r["label"] for r in rows] == [i % 3 for i in range(30)]
    assert np.array_equal(np.stack([r["conv2"] for r in rows]), np.load(tmp_path / "single.npy"))


def _feature_worker_pids() -> list[int]:
    """Processes of the FeatureWorker actors (Ray titles them ``ray::MapWorker(MapBatches(FeatureWorker))``)."""
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if cmd.startswith(b"ray::") and b"FeatureWorker" in cmd:
                pids.append(int(p))
    return pids


def test_a_killed_worker_is_restarted_and_no_row_is_lost_or_doubled(cluster, image_model, tmp_path):
    _, path = image_model
    x = np.random.default_rng(2).integers(0, 256, (120, *IMAGE)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    single, dist = str(tmp_path / "single.npy"), str(tmp_path / "ray.npy")
    extract_features(path, "conv2", str(tmp_path / "x.npy"), single, batch_size=4)
    killed, after = [], []

    def kill_one(done: int, total: int) -> None:
        if killed:
            after.append(done)
            return
        pids = _feature_worker_pids()
        assert pids, "no FeatureWorker process found"
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    r = ray_engine.run(path, "conv2", str(tmp_path / "x.npy"), dist, batch_size=4, num_workers=2, progress=kill_one)
    assert killed and after and after[-1] == 120             # the run went on after the kill, to the end
    assert not os.path.exists(f"/proc/{killed[0]}") or b"FeatureWorker" not in open(
        f"/proc/{killed[0]}/cmdline", "rb").read()
    assert r.rows == 120 and np.array_equal(np.load(dist), np.load(single))


def test_a_model_that_fails_to_build_on_a_worker_is_one_error_line(cluster, tmp_path):
    """The driver builds it (so the checks pass); the workers' environment makes the build fail."""
    spec = tmp_path / "factory.py"
    spec.write_text(
        "import os\nimport keras\n\n"
        "def build():\n"
        "    if os.environ.get('INSPECTOR_TEST_ON_WORKER'):\n"
        "        raise RuntimeError('no access to the weights bucket from this node')\n"
        "    x = keras.Input((4,), name='x')\n"
        "    return keras.Model(x, keras.layers.Dense(3, name='d')(x))\n")
    np.save(tmp_path / "x.npy", np.ones((6, 4), "float32"))
    out = tmp_path / "f.npy"
    with pytest.raises(InspectorError) as e:
        ray_engine.run(f"{spec}:build", "d", str(tmp_path / "x.npy"), str(out), num_workers=1,
                       runtime_env={"env_vars": {"INSPECTOR_TEST_ON_WORKER": "1"}})
    msg = str(e.value)
    assert "could not build the extractor" in msg and "no access to the weights bucket" in msg
    assert "\n" not in msg and "Traceback" not in msg
    assert not out.exists() and _no_temp_files(tmp_path)


def test_an_interrupted_run_leaves_no_output(cluster, image_model, image_dir, tmp_path):
    _, path = image_model

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    out = tmp_path / "feats"
    with pytest.raises(KeyboardInterrupt):
        ray_engine.run(path, ["gap", "conv2"], image_dir, str(out), fmt="parquet", batch_size=4, num_workers=1,
                       progress=interrupt)
    assert os.listdir(tmp_path) == []


def test_import_inspector_does_not_import_ray():
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys, inspector, inspector.extract.ray_engine\n"
            "print(sorted(m for m in ('ray', 'tensorflow', 'keras', 'pyarrow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


@pytest.mark.parametrize("change,needle", [
    ({"address": "127.0.0.1:1"}, "cannot join the Ray cluster at 127.0.0.1:1: nothing answers there"),
    ({"out": "f.csv"}, "output must end in .npy or .npz"),
    ({"layers": "dens"}, "did you mean dense"),
    ({"layers": ["dense", "priority"]}, "2 outputs (dense, priority) need an .npz output"),
    ({"data": "missing"}, "no array for input 'text_body'"),
])
def test_bad_runs_fail_before_any_worker_starts(sample_dir, tickets, tmp_path, change, needle):
    """The single-process path's checks, in this process, with its wording; no Ray needed for any of them."""
    _, path = sample_dir["customer_ticket_model"]
    data = tickets
    if change.get("data") == "missing":
        data = str(tmp_path / "two.npz")
        np.savez(data, **{k: v for k, v in np.load(tickets).items() if k != "text_body"})
    kw = {"layers": "dense", "out": "f.npy", **{k: v for k, v in change.items() if k != "data"}}
    out = str(tmp_path / kw.pop("out"))
    with pytest.raises(InspectorError) as e:
        ray_engine.run(path, kw.pop("layers"), data, out, **kw)
    assert needle in str(e.value)
    assert not os.path.exists(out) and _no_temp_files(tmp_path)


def test_cli_engine_ray_matches_single_process(cluster, sample_dir, tickets, tmp_path):
    """`inspector features --engine ray` (the command line) gives the single-process rows, bit for bit."""
    from click.testing import CliRunner

    from inspector.cli.app import main

    _, path = sample_dir["customer_ticket_model"]
    single, dist = str(tmp_path / "single.npy"), str(tmp_path / "ray.npy")
    extract_features(path, ["dense"], tickets, single, batch_size=16)
    r = CliRunner().invoke(main, ["features", path, "--layer", "dense", "-i", tickets, "-o", dist, "-b", "16",
                                  "--engine", "ray", "--num-workers", "2"])
    assert r.exit_code == 0, (r.output, r.exception)
    assert np.array_equal(np.load(dist), np.load(single))
    r = CliRunner().invoke(main, ["features", path, "--layer", "dense", "-i", tickets, "-o", dist + ".x.npy",
                                  "--engine", "ray", "--shard", "0/2"])
    assert r.exit_code == 2 and not os.path.exists(dist + ".x.npy")
