"""The one-line error contract of the writing commands: bad paths, signals, usage errors, user code.

Every bad input is one ``error:`` line and exit 2 (signals: 128 + signum), no
traceback, no half-written output, no modified input. Most checks run before
TensorFlow is imported, and several tests assert that they do.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, run_cli, user_lines

from inspector.errors import InspectorError

ATOL = 1e-5
SEED = os.path.join(ROOT, "samples", "seed_models.py")
TICKET_SPECS = ("title=10000", "text_body=10000", "tags=100")


def one_error(r: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single ``error:`` line of a failed run (asserting there is exactly one, and no traceback)."""
    lines = [line for line in user_lines(r.stderr) if not line.startswith("TF_LOADED=")]
    assert r.returncode == code and len(lines) == 1 and lines[0].startswith("error: "), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    return lines[0]


def leftovers(directory) -> list[str]:
    return sorted(p for p in os.listdir(directory) if p.startswith(".tmp"))


# --------------------------------------------------------------------------- output paths (items 1, 4, 5)
def test_two_outputs_or_output_over_input_refused_before_tensorflow(sample_dir, tmp_path):
    _, path = sample_dir["customer_ticket_model"]
    same = str(tmp_path / "same.keras")
    r = run_cli("extract", path, "--from", "dense", "-o", same, "--head-output", same, check_tf=True)
    assert "two outputs are the same file" in one_error(r)
    assert "TF_LOADED=False" in r.stderr and not os.path.exists(same)
    alias = str(tmp_path / "sub" / ".." / "same.keras")
    os.mkdir(tmp_path / "sub")
    r = run_cli("extract", path, "--from", "dense", "-o", same, "--head-output", alias)
    assert "two outputs are the same file" in one_error(r)
    copy = tmp_path / "in.keras"
    shutil.copy(path, copy)
    before = copy.read_bytes()
    r = run_cli("extract", str(copy), "--from", "dense", "-o", same, "--head-output", str(copy))
    assert "refusing to overwrite" in one_error(r) and copy.read_bytes() == before
    r = run_cli("extract", path, "--layer", "dense", "-o", "")
    assert "output must end in .keras" in one_error(r)


def _nocaps() -> list[str] | None:
    """A command prefix that makes a permission check bite: nothing for a normal user, setpriv for root."""
    if os.geteuid() != 0:
        return []
    exe = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [exe, f"--inh-caps={caps}", f"--bounding-set={caps}"] if exe else None


def _run_nocaps(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    code = "import sys; from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]\nmain()"
    return subprocess.run([*_nocaps(), sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture()
def readonly_dir(tmp_path):
    if _nocaps() is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    yield ro
    ro.chmod(0o755)


def test_unwritable_directory_is_one_line_naming_the_output(sample_dir, readonly_dir, tmp_path):
    _, ticket = sample_dir["customer_ticket_model"]
    _, simple = sample_dir["functional_simple"]
    np.save(tmp_path / "x.npy", np.zeros((4, 3), "float32"))
    data = str(tmp_path / "x.npy")
    ro = str(readonly_dir)
    cases = [("export", ticket, "-o", f"{ro}/g.json"), ("render", ticket, "-o", f"{ro}/g.dot"),
             ("extract", ticket, "--layer", "dense", "-o", f"{ro}/e.keras"),
             ("graft", ticket, "--at", "dense", "--head", "d:3", "-o", f"{ro}/g.keras"),
             ("features", simple, "--layer", "dense", "-i", data, "-o", f"{ro}/f.npy"),
             ("features", simple, "--layer", "dense", "-i", data, "-o", f"{ro}/f.npy", "--shard", "1/2")]
    for args in cases:
        out = args[-1] if args[-2] == "-o" else args[-3]
        if "--shard" in args:
            out = f"{ro}/f-00001-of-00002.npy"
        line = one_error(_run_nocaps(*args))
        assert line == f"error: {out}: cannot write (permission denied)", (args, line)
    # a split refuses before writing either half (item 5)
    ok = tmp_path / "ok"
    ok.mkdir()
    line = one_error(_run_nocaps("extract", ticket, "--from", "dense", "-o", str(ok / "t.keras"),
                                 "--head-output", f"{ro}/h.keras"))
    assert line == f"error: {ro}/h.keras: cannot write (permission denied)"
    assert os.listdir(ok) == [] and os.listdir(readonly_dir) == []


def test_write_errors_in_process_name_the_output(tmp_path, monkeypatch):
    import errno
    import tempfile

    from inspector.atomic import atomic_path, write_text

    out = tmp_path / "o.json"
    out.write_text("previous")
    with pytest.raises(InspectorError) as e, atomic_path(str(out)) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", tmp)
    assert str(e.value) == f"{out}: cannot write (no space left on device)"
    assert out.read_text() == "previous" and leftovers(tmp_path) == []

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".tmp-x"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InspectorError, match=r"o\.json: cannot write \(permission denied\)$"):
        write_text(str(out), "new")
    assert out.read_text() == "previous"


def test_split_saves_both_halves_or_neither(tmp_path):
    from inspector.cli.extract import _save_all

    class Model:
        def __init__(self, fail: bool):
            self.fail = fail

        def save(self, path: str) -> None:
            if self.fail:
                raise ValueError("cannot serialise")
            open(path, "w").write("model")

    with pytest.raises(ValueError):
        _save_all([(Model(False), str(tmp_path / "t.keras")), (Model(True), str(tmp_path / "h.keras"))])
    assert os.listdir(tmp_path) == []
    _save_all([(Model(False), str(tmp_path / "t.keras")), (Model(False), str(tmp_path / "h.keras"))])
    assert sorted(os.listdir(tmp_path)) == ["h.keras", "t.keras"]


# --------------------------------------------------------------------------- signals (item 3)
def test_sigterm_inside_atomic_path_cleans_up(tmp_path):
    from inspector.atomic import Terminated, atomic_path

    out = tmp_path / "o.npy"
    out.write_text("previous")
    with pytest.raises(Terminated) as e, atomic_path(str(out)) as tmp:
        open(tmp, "w").write("partial")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)   # the handler raises here
    assert e.value.signum == signal.SIGTERM
    assert out.read_text() == "previous" and leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("sig,out_name", [(signal.SIGTERM, "emb.npz"), (signal.SIGHUP, "emb.npy")])
def test_killed_features_run_leaves_nothing_and_keeps_old_output(tmp_path, keras, sig, out_name):
    inp = keras.Input((8,), name="x")
    keras.Model(inp, keras.layers.Dense(4, name="dense")(inp)).save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", np.zeros((200_000, 8), "float32"))
    work = tmp_path / "out"
    work.mkdir()
    (work / out_name).write_text("previous")
    env = dict(os.environ, PYTHONPATH=ROOT)
    code = "import sys; from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]\nmain()"
    p = subprocess.Popen([sys.executable, "-c", code, "features", str(tmp_path / "m.keras"), "--layer", "dense",
                          "-i", str(tmp_path / "x.npy"), "-o", str(work / out_name), "-b", "1"],
                         stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 90
    while not any(f.startswith(".tmp-part-" if out_name.endswith("npz") else ".tmp-") for f in os.listdir(work)):
        assert p.poll() is None and time.time() < deadline, "features ended before it was killed"
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    lines = user_lines(err)
    assert p.returncode == 128 + sig and lines == [f"error: interrupted ({signal.Signals(sig).name})"], err
    assert sorted(os.listdir(work)) == [out_name] and (work / out_name).read_text() == "previous"


# --------------------------------------------------------------------------- features batches (item 2)
def test_batch_size_is_capped_at_the_rows(sample_dir, keras, tmp_path, monkeypatch):
    from inspector.extract import submodel as ex
    from inspector.extract.features import extract_features, part_path

    model, _ = sample_dir["functional_simple"]
    x = np.random.default_rng(0).random((37, 3), dtype="float32")
    np.save(tmp_path / "x.npy", x)
    fed: list[int] = []
    real = ex.Extraction.feed
    monkeypatch.setattr(ex.Extraction, "feed", lambda self, arrays: fed.append(len(next(iter(arrays.values()))))
                        or real(self, arrays))
    out = str(tmp_path / "f.npy")
    extract_features(model, "dense", str(tmp_path / "x.npy"), out, batch_size=100_000)
    assert max(fed) == 37
    want = keras.Model(model.inputs, model.get_layer("dense").output).predict(x, verbose=0)
    assert np.allclose(np.load(out), want, atol=ATOL)
    for k in range(3):   # shards keep the single run's grid: parts concatenate bit for bit
        extract_features(model, "dense", str(tmp_path / "x.npy"), out, batch_size=100_000, shard=(k, 3))
    parts = np.concatenate([np.load(part_path(out, k, 3)) for k in range(3)])
    assert max(fed) == 37 and np.array_equal(parts, np.load(out))
