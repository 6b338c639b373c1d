"""Property / fuzz tests of the static reader (issue #6).

Hypothesis mutates real ``config.json`` files (values replaced by random JSON,
keys and list items deleted or duplicated) and flips random bytes of real
``.keras`` and legacy ``.h5`` files (or truncates them). Whatever comes out,
reading must end in success or one of *our* errors (:class:`InspectorError`),
never another exception; and what it accepts, the consumers (summary tables,
JSON/GraphML export) must handle.

CI runs a fixed, bounded number of derandomized examples (well under a minute);
``FUZZ_EXAMPLES=2000 pytest tests/readers/test_fuzz.py`` explores more, with fresh
randomness.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inspector
from inspector.errors import InspectorError
from inspector.report import summary

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=EXAMPLES or 100,
    derandomize=not EXAMPLES,
    deadline=int(os.environ.get("FUZZ_DEADLINE_MS", "0")) or None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

#: Small real models (the big ones only make each example slower, not more interesting).
SAMPLES = ["functional_simple", "shared_layer_model", "nested_model", "functional_with_ops", "sequential_model",
           "functional_with_subclassed_classifier", "my_model"]


def consume(path: str) -> None:
    """Read ``path`` as the CLI would and render everything; only InspectorError may escape."""
    try:
        g = inspector.read(path)
    except InspectorError as e:
        text = str(e)
        assert text.startswith(path + ": ") and "\n" not in text and text.isprintable(), text
        return
    summary.render_text(g)
    summary.render_markdown(g)
    summary.render_json(g)
    g.to_json()
    g.to_graphml()


@pytest.fixture(scope="module")
def real_files(sample_dir, tmp_path_factory, keras) -> dict[str, Any]:
    """Bytes and configs of real Keras-written files: .keras samples and a legacy .h5."""
    out = tmp_path_factory.mktemp("fuzz-src")
    files: dict[str, Any] = {}
    for name in SAMPLES:
        path = sample_dir[name][1]
        with zipfile.ZipFile(path) as z:
            files[name] = {
                "bytes": open(path, "rb").read(),
                "config": json.loads(z.read("config.json")),
                "members": {i.filename: z.read(i) for i in z.infolist() if i.filename != "config.json"},
            }
    h5 = str(out / "functional_simple.h5")
    sample_dir["functional_simple"][0].save(h5)
    files["legacy_h5"] = {"bytes": open(h5, "rb").read()}
    return files


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Any:
    d = tmp_path_factory.mktemp("fuzz")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- mutated configs
KEYS = ["class_name", "config", "module", "registered_name", "name", "layers", "inbound_nodes", "keras_history",
        "shape", "batch_shape", "input_layers", "output_layers", "units", "filters", "kernel_size", "function",
        "args", "kwargs", "build_config", "input_shape", "dtype", "axis", "trainable"]
STRINGS = ["os.system", "builtins", "exec", "function", "__lambda__", "__keras_tensor__", "Dense", "Functional",
           "Sequential", "InputLayer", "Lambda", "keras.layers", "keras.utils", "get_file", "dense", "input_layer",
           "../x", "\x1b[2J", "", "float32", "TFSMLayer", "StringLookup", "/etc/passwd"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([0, 1, -1, 2**31, 2**40, 10**12])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12) | st.sampled_from(STRINGS),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def _slots(obj: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) inside a JSON value, iteratively."""
    out: list[tuple[Any, Any]] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
        for k, v in items:
            out.append((o, k))
            stack.append(v)
    return out


@st.composite
def mutated_configs(draw: Any, files: dict) -> tuple[str, dict]:
    name = draw(st.sampled_from(SAMPLES))
    config = copy.deepcopy(files[name]["config"])
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(config)
        if not slots:
            break
        parent, key = slots[draw(st.integers(0, len(slots) - 1))]
        op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "swap"]))
        if op == "replace":
            parent[key] = draw(json_values)
        elif op == "delete":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == "swap":
            other_parent, other_key = slots[draw(st.integers(0, len(slots) - 1))]
            # copies: swapping a value with one of its own ancestors must not make a cycle
            a, b = copy.deepcopy(parent[key]), copy.deepcopy(other_parent[other_key])
            parent[key] = b
            try:
                other_parent[other_key] = a
            except (IndexError, KeyError, TypeError):  # the first assignment replaced its container
                pass
    return name, config


def rezip(path: str, config: bytes, members: dict[str, bytes]) -> None:
    """A .keras archive at ``path``: ``config`` as config.json plus a real file's other members."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", config)
        for member, blob in members.items():
            z.writestr(member, blob)


def test_mutated_configs(real_files, scratch):
    path = str(scratch / "mutated.keras")

    @SETTINGS
    @given(mutated_configs(real_files))
    def check(item: tuple[str, dict]) -> None:
        name, config = item
        rezip(path, json.dumps(config).encode(), real_files[name]["members"])
        consume(path)

    check()


# --------------------------------------------------------------------------- byte flips
@st.composite
def flipped(draw: Any, blob: bytes) -> bytes:
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def test_byte_flips_of_keras_files(real_files, scratch):
    path = str(scratch / "flipped.keras")

    @SETTINGS
    @given(st.sampled_from(SAMPLES).flatmap(lambda n: flipped(real_files[n]["bytes"])))
    def check(data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
        consume(path)

    check()


def test_byte_flips_of_config_text(real_files, scratch):
    """Bytes of config.json flipped, inserted or deleted, then re-zipped with a valid CRC (a flip
    inside the stored member is caught by zipfile's CRC check, which would hide the JSON and
    graph checks from the fuzzer)."""
    path = str(scratch / "flipped-config.keras")
    alphabet = list(b'{}[]",:0123456789-.enulltrue ')

    @st.composite
    def cases(draw: Any) -> tuple[str, bytes]:
        name = draw(st.sampled_from(SAMPLES))
        data = bytearray(json.dumps(real_files[name]["config"]).encode())
        for _ in range(draw(st.integers(1, 6))):
            pos = draw(st.integers(0, len(data) - 1))
            byte = draw(st.sampled_from(alphabet) | st.integers(0, 255))
            op = draw(st.sampled_from(["set", "set", "insert", "delete"]))
            if op == "set":
                data[pos] = byte
            elif op == "insert":
                data.insert(pos, byte)
            elif len(data) > 1:
                del data[pos]
        return name, bytes(data)

    @SETTINGS
    @given(cases())
    def check(item: tuple[str, bytes]) -> None:
        name, config = item
        rezip(path, config, real_files[name]["members"])
        consume(path)

    check()


def test_byte_flips_of_legacy_h5(real_files, scratch):
    path = str(scratch / "flipped.h5")

    @SETTINGS
    @given(flipped(real_files["legacy_h5"]["bytes"]))
    def check(data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
        consume(path)

    check()
