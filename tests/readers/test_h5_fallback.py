"""The static reader's HDF5 paths: h5lite for every file Keras writes, h5py only in a child
process for the rest, and a libhdf5 crash or hang in that child as one clear error.

Truth is Keras: parameter totals and per-layer weight shapes of the models that were saved.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
from conftest import ROOT

import inspector
from inspector.errors import BadModelFile
from inspector.readers import hdf5_file
from inspector.readers.hdf5 import snapshot as h5snapshot


@pytest.fixture
def count_fallbacks(monkeypatch):
    """Counts calls of the h5py child-process fallback (and still runs it)."""
    calls: list[tuple] = []
    real = h5snapshot.snapshot

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(hdf5_file.h5snapshot, "snapshot", spy)
    return calls


def _weight_shapes(g) -> dict[str, list[tuple]]:
    return {a["name"]: sorted(tuple(w["shape"]) for w in a.get("weights") or [])
            for _, a in g.nodes() if a["call_index"] == 0 and a["kind"] == "layer"}


def _assert_like_keras(g, model) -> None:
    assert g.totals()["params_total"] == model.count_params()
    shapes = _weight_shapes(g)
    for layer in model.layers:
        if layer.name in shapes:
            assert shapes[layer.name] == sorted(tuple(v.shape) for v in layer.weights), layer.name


@pytest.fixture(scope="module")
def legacy_files(sample_dir, tmp_path_factory, keras):
    out = tmp_path_factory.mktemp("legacy")
    files = {}
    for name in ("functional_simple", "customer_ticket_model", "sequential_model"):
        model = sample_dir[name][0]
        path = str(out / f"{name}.h5")
        model.save(path)
        files[name] = (model, path)
    return files


def test_keras_files_never_need_h5py(sample_dir, legacy_files, count_fallbacks):
    for name, (model, path) in list(sample_dir.items()) + list(legacy_files.items()):
        g = inspector.read(path)
        assert g.totals()["params_total"] == model.count_params(), name
    assert count_fallbacks == []


def test_summary_does_not_import_h5py(sample_dir, legacy_files):
    for path in (sample_dir["customer_ticket_model"][1], legacy_files["functional_simple"][1]):
        code = ("import sys; from inspector.cli import main\n"
                f"sys.argv = ['inspector', 'summary', {path!r}]\n"
                "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
                "bad = [m for m in ('h5py', 'numpy', 'tensorflow') if m in sys.modules]\n"
                "assert not bad, bad\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
        assert done.returncode == 0, done.stderr[-500:]


def _add_compound_attr(h5path: str) -> None:
    """An attribute type h5lite does not decode (compound), harmless to Keras, on the root and
    on every ``vars`` group (groups whose attributes the reader decodes)."""
    value = np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")])
    with h5py.File(h5path, "a") as f:
        groups = [f]
        f.visititems(lambda name, obj: groups.append(obj) if name.endswith("/vars") else None)
        for g in groups:
            g.attrs["provenance"] = value


def _compound_keras(sample_dir, tmp_path) -> str:
    """functional_simple.keras with a compound attribute in its model.weights.h5."""
    src = sample_dir["functional_simple"][1]
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    w = tmp_path / "w.h5"
    w.write_bytes(members["model.weights.h5"])
    _add_compound_attr(str(w))
    members["model.weights.h5"] = w.read_bytes()
    dst = tmp_path / "compound.keras"
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(dst)


def test_unsupported_feature_falls_back_to_h5py(sample_dir, legacy_files, tmp_path, count_fallbacks):
    model, src = sample_dir["functional_simple"]
    dst = _compound_keras(sample_dir, tmp_path)
    _assert_like_keras(inspector.read(str(dst)), model)
    assert len(count_fallbacks) == 1
    # legacy .h5
    lmodel, lsrc = legacy_files["customer_ticket_model"]
    ldst = tmp_path / "compound.h5"
    ldst.write_bytes(open(lsrc, "rb").read())
    _add_compound_attr(str(ldst))
    _assert_like_keras(inspector.read(str(ldst)), lmodel)
    assert len(count_fallbacks) == 2


@pytest.mark.parametrize("child, expect", [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "crashed"),
    ("import time; time.sleep(30)", "did not finish"),
    ("raise SystemExit(3)", "failed"),
])
def test_child_crash_or_hang_is_one_clear_error(sample_dir, tmp_path, monkeypatch, child, expect):
    path = _compound_keras(sample_dir, tmp_path)
    before = open(path, "rb").read()
    monkeypatch.setattr(h5snapshot, "child_command", lambda *a: [sys.executable, "-c", child])
    monkeypatch.setattr(h5snapshot, "CHILD_TIMEOUT_S", 2.0)
    with pytest.raises(BadModelFile) as err:
        inspector.read(path)
    msg = str(err.value)
    assert expect in msg and "\n" not in msg and path in msg
    assert open(path, "rb").read() == before
