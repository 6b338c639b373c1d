"""Generate the hostile / broken model-file corpus (issue #6) into a directory.

    python tests/corpus/make_corpus.py OUTDIR [--sentinel PATH] [--url URL]

Writes one file per case plus ``manifest.json``: a list of cases, each with
``name``, ``file``, ``expect`` (``"error"`` or ``"ok"``), ``error`` (the
:mod:`inspector.errors` class the static reader must raise), ``message`` (a
regular expression the one-line error -- or, for ``ok`` cases, the warning /
notes -- must match), ``about`` (what is wrong) and, for ``ok`` cases, node
``flags`` the graph must carry.

Nothing here needs Keras: the base models are written the way Keras 3.15
(``.keras``) and Keras 2 / tf-keras (legacy ``.h5``) write them, with json,
zipfile and h5py, so the corpus takes well under a second to build. Every
payload that *would* do something if executed (shell commands, bytecode,
downloads) targets ``--sentinel`` (a file that must never appear) or ``--url``
(a local listener that must never be contacted). The bytecode is made with
``compile()`` + ``marshal.dumps()`` of our own source; nothing is ever loaded.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import marshal
import os
import stat
import struct
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import h5py
import numpy as np

KERAS_VERSION = "3.15.1"


@dataclass
class Case:
    name: str
    file: str
    expect: str  # "error" | "ok"
    error: str | None  # inspector.errors class name
    message: str  # regex: the error line (error) or warnings/notes (ok)
    about: str
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)  # ok: node -> attrs
    warning: bool = False  # ok: one "warning: <file>: ..." line expected on stderr
    regular: bool = True  # False for the FIFO: never hash or open it
    options: list[str] = field(default_factory=list)  # extra CLI options (--allow-code: read(allow_code=True))


# --------------------------------------------------------------------------- Keras 3 base model
def _tensor(src: str, shape: list, node: int = 0, index: int = 0) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [src, node, index]}}


def _policy() -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def _init(cls: str) -> dict:
    return {"module": "keras.initializers", "class_name": cls, "config": {"seed": None} if cls != "Zeros" else {},
            "registered_name": None}


def dense(name: str, units: int, src: str, in_shape: list, activation: str = "relu") -> dict:
    return {
        "module": "keras.layers", "class_name": "Dense",
        "config": {"name": name, "trainable": True, "dtype": _policy(), "units": units, "activation": activation,
                   "use_bias": True, "kernel_initializer": _init("GlorotUniform"),
                   "bias_initializer": _init("Zeros"), "kernel_regularizer": None, "bias_regularizer": None,
                   "kernel_constraint": None, "bias_constraint": None, "quantization_config": None},
        "registered_name": None, "build_config": {"input_shape": in_shape}, "name": name,
        "inbound_nodes": [{"args": [_tensor(src, in_shape)], "kwargs": {}}],
    }


def input_layer(name: str, batch_shape: list) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": batch_shape, "dtype": "float32", "sparse": False, "ragged": False,
                       "name": name, "optional": False},
            "registered_name": None, "name": name, "inbound_nodes": []}


def functional(layers: list[dict], inputs: Any, outputs: Any, name: str = "corpus_model") -> dict:
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": name, "trainable": True, "layers": layers, "input_layers": inputs,
                       "output_layers": outputs},
            "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": {}}


def base_config() -> dict:
    """x(3) -> dense(4, relu) -> dense_1(2, softmax), as Keras 3.15 saves it."""
    return functional([input_layer("x", [None, 3]), dense("dense", 4, "x", [None, 3]),
                       dense("dense_1", 2, "dense", [None, 4], "softmax")],
                      ["x", 0, 0], ["dense_1", 0, 0])


#: case name -> (input, dense, dense_1, model) names that are markup in some output format
MARKUP_NAMES: dict[str, tuple[str, str, str, str]] = {
    "markup-names-html": ("<b>in</b>", "<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>",
                          "</title><svg onload=alert(3)>"),
    "markup-names-dot": ('"; x [URL="http://127.0.0.1:9/"', "<<b>d</b>>", "a]; b [label=c", "]]>&amp;\\N\\G"),
    "markup-names-markdown": ("`in`", "a|b|c", "[x](javascript:alert(1))", "*_~&lt;`"),
    "markup-names-unicode": ("\u200fRTL\u200e", "e\u0301\u0301", "\U0001F468\u200d\U0001F469\u4e2d\u6587",
                             "\u200f\u05d0\u05d1"),
}

#: weights group key -> (layer name, [dataset shapes])
BASE_WEIGHTS: dict[str, tuple[str, list[tuple]]] = {
    "input_layer": ("x", []),
    "dense": ("dense", [(3, 4), (4,)]),
    "dense_1": ("dense_1", [(4, 2), (2,)]),
}


def weights_h5(groups: dict[str, tuple[str, list[tuple]]] | None = None, model_name: str = "corpus_model",
               tweak: Callable[[h5py.File], None] | None = None) -> bytes:
    """A Keras 3 ``model.weights.h5`` (``layers/<key>/vars/<i>``) as bytes."""
    groups = BASE_WEIGHTS if groups is None else groups
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = f.create_group("layers")
        for key, (name, shapes) in groups.items():
            v = layers.create_group(f"{key}/vars")
            v.attrs["name"] = name
            for i, shape in enumerate(shapes):
                v.create_dataset(str(i), data=np.zeros(shape, "float32"))
        f.create_group("vars").attrs["name"] = model_name
        if tweak:
            tweak(f)
    return buf.getvalue()


def metadata() -> bytes:
    return json.dumps({"keras_version": KERAS_VERSION, "date_saved": "2026-01-01@00:00:00"}).encode()


def write_keras(path: str, config: Any = None, weights: bytes | None = b"default", meta: bytes | None = None,
                extra: list[tuple[Any, bytes]] | None = None, config_bytes: bytes | None = None,
                compress_config: bool = False) -> None:
    """A `.keras` zip the way Keras writes it (members stored), with overrides."""
    if config_bytes is None:
        config_bytes = json.dumps(base_config() if config is None else config).encode()
    if weights == b"default":
        weights = weights_h5()
    with zipfile.ZipFile(path, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point of one case
        z.writestr("metadata.json", metadata() if meta is None else meta)
        z.writestr("config.json", config_bytes,
                   compress_type=zipfile.ZIP_DEFLATED if compress_config else zipfile.ZIP_STORED)
        if weights is not None:
            z.writestr("model.weights.h5", weights)
        for info, data in extra or []:
            z.writestr(info, data)


# --------------------------------------------------------------------------- legacy (Keras 2) base model
def legacy_config() -> dict:
    def layer(cls: str, cfg: dict, inbound: list) -> dict:
        return {"class_name": cls, "config": cfg, "name": cfg["name"], "inbound_nodes": inbound}

    dense_cfg = {"trainable": True, "dtype": "float32", "activation": "relu", "use_bias": True,
                 "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                 "bias_initializer": {"class_name": "Zeros", "config": {}}}
    return {"class_name": "Functional", "config": {
        "name": "legacy_model",
        "layers": [
            layer("InputLayer", {"batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
                                 "ragged": False, "name": "input_1"}, []),
            layer("Dense", {"name": "dense", "units": 4, **dense_cfg}, [[["input_1", 0, 0, {}]]]),
            layer("Dense", {"name": "dense_1", "units": 2, **dense_cfg}, [[["dense", 0, 0, {}]]]),
        ],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]]}}


LEGACY_WEIGHTS: dict[str, list[tuple[str, tuple]]] = {
    "input_1": [],
    "dense": [("dense/kernel:0", (3, 4)), ("dense/bias:0", (4,))],
    "dense_1": [("dense_1/kernel:0", (4, 2)), ("dense_1/bias:0", (2,))],
}


def write_h5(path: str, config: Any = None, weights: dict | None = None, config_attr: Any = None,
             with_config: bool = True, tweak: Callable[[h5py.File], None] | None = None) -> None:
    """A legacy full-model `.h5` the way Keras 2 / tf-keras writes it."""
    weights = LEGACY_WEIGHTS if weights is None else weights
    with h5py.File(path, "w") as f:
        if with_config:
            f.attrs["model_config"] = (json.dumps(legacy_config() if config is None else config)
                                       if config_attr is None else config_attr)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [k.encode() for k in weights]
        for layer, ws in weights.items():
            g = mw.create_group(layer)
            g.attrs["weight_names"] = [n.encode() for n, _ in ws]
            for n, shape in ws:
                g.create_dataset(n, data=np.zeros(shape, "float32"))
        if tweak:
            tweak(f)


# --------------------------------------------------------------------------- payloads
def lambda_bytecode(sentinel: str) -> str:
    """base64 of marshalled bytecode that would create ``sentinel`` if it were ever run (it is not)."""
    module = compile(f"lambda x: (__import__('os').system('touch {sentinel}'), x)[1]", "<corpus>", "eval")
    code = next(c for c in module.co_consts if hasattr(c, "co_code"))
    return base64.b64encode(marshal.dumps(code)).decode()


def keras3_lambda(name: str, function: Any, src: str = "x", arguments: dict | None = None,
                  shape: list | None = None) -> dict:
    shape = shape or [None, 3]
    return {"module": "keras.layers", "class_name": "Lambda",
            "config": {"name": name, "trainable": True, "dtype": _policy(), "function": function,
                       "arguments": arguments or {}, "output_shape": None, "mask": None},
            "registered_name": None, "build_config": {"input_shape": shape}, "name": name,
            "inbound_nodes": [{"args": [_tensor(src, shape)], "kwargs": {}}]}


def fn_ref(module: str, name: str) -> dict:
    """How Keras 3 serialises a plain function."""
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


def with_layer(layer: dict, weights_key: str | None = None, shapes: list | None = None) -> tuple[dict, bytes]:
    """Base model plus ``layer`` applied to the input, as an extra output."""
    cfg = base_config()
    cfg["config"]["layers"].append(layer)
    cfg["config"]["output_layers"] = [["dense_1", 0, 0], [layer["name"], 0, 0]]
    groups = dict(BASE_WEIGHTS)
    if weights_key:
        groups[weights_key] = (layer["name"], shapes or [])
    return cfg, weights_h5(groups)


def _patch_zip_member(path: str, member: str, fn: Callable[[bytearray, int, bool], None]) -> None:
    """Edit the local header (central=False) and central-directory entry (True) of ``member``."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    # (signature, offset of the name length, offset of the name, central?)
    for sig, len_at, name_at, central in ((b"PK\x03\x04", 26, 30, False), (b"PK\x01\x02", 28, 46, True)):
        pos = 0
        while True:
            i = data.find(sig, pos)
            if i < 0:
                break
            n = struct.unpack("<H", data[i + len_at:i + len_at + 2])[0]
            if data[i + name_at:i + name_at + n] == name:
                fn(data, i, central)
            pos = i + 4
    open(path, "wb").write(bytes(data))


# --------------------------------------------------------------------------- the corpus
def build(outdir: str, sentinel: str, url: str = "http://127.0.0.1:9/payload.bin") -> list[Case]:
    """Write every corpus file into ``outdir`` and ``manifest.json``; return the cases."""
    os.makedirs(outdir, exist_ok=True)
    cases: list[Case] = []
    sentinel = os.path.abspath(sentinel)
    touch = f"touch {sentinel}"

    def p(fname: str) -> str:
        return os.path.join(outdir, fname)

    def err(name: str, fname: str, error: str, message: str, about: str, **kw: Any) -> None:
        cases.append(Case(name, fname, "error", error, message, about, **kw))

    def ok(name: str, fname: str, message: str, about: str, **kw: Any) -> None:
        cases.append(Case(name, fname, "ok", None, message, about, **kw))

    def lambda_cases(name: str, fname: str, about: str) -> None:
        """Lambda bytecode: refused by default; with --allow-code shown flagged, never decoded or run."""
        found = r"1 Lambda layer holds marshalled Python bytecode \(lam\)"
        err(name, fname, "UnsafeModel", found + " — refusing; nothing was decoded or run", about + ": refused")
        ok(name + "-allowed", fname, found, about + ", with --allow-code: shown flagged, never decoded or run",
           flags={"lam": {"code": True}}, warning=True, options=["--allow-code"])

    # ---- sanity: the base files read fine (so every mutation below is what fails)
    write_keras(p("good_functional.keras"))
    ok("good-keras", "good_functional.keras", "", "unmodified base .keras model")
    write_h5(p("good_legacy.h5"))
    ok("good-h5", "good_legacy.h5", "", "unmodified base legacy .h5 model")
    good = open(p("good_functional.keras"), "rb").read()

    # ---- not a model / wrong kind / truncated
    open(p("empty.keras"), "wb").close()
    err("empty-file", "empty.keras", "BadModelFile", r"is empty", "0-byte file")
    open(p("text.keras"), "wb").write(b"this is not a model, just some text\n" * 20)
    err("not-zip-not-hdf5", "text.keras", "BadModelFile", r"not a Keras model file", "plain text")
    open(p("gzip.h5"), "wb").write(gzip.compress(b"not hdf5" * 100))
    err("gzip-as-h5", "gzip.h5", "BadModelFile", r"not a Keras model file", "gzip data named .h5")
    os.mkfifo(p("fifo.keras"))
    err("named-pipe", "fifo.keras", "BadModelFile", r"not a regular file",
        "a FIFO (would block a reader forever)", regular=False)
    open(p("truncated_half.keras"), "wb").write(good[: len(good) // 2])
    err("truncated-zip", "truncated_half.keras", "BadModelFile", r"truncated or corrupt zip",
        "zip cut in half (no central directory)")
    open(p("truncated_head.keras"), "wb").write(good[:200])
    err("truncated-zip-head", "truncated_head.keras", "BadModelFile", r"truncated or corrupt zip",
        "only the first 200 bytes of a zip")
    with zipfile.ZipFile(p("empty_zip.keras"), "w"):
        pass
    err("empty-zip", "empty_zip.keras", "BadModelFile", r"no config\.json", "empty zip archive")
    with zipfile.ZipFile(p("no_config.keras"), "w") as z:
        z.writestr("metadata.json", metadata())
        z.writestr("model.weights.h5", weights_h5())
    err("no-config", "no_config.keras", "BadModelFile", r"no config\.json", "zip without config.json")

    # ---- zip bombs and hostile archives
    write_keras(p("zip_bomb.keras"), config_bytes=b" " * (65 * 1024 * 1024), compress_config=True)
    err("zip-bomb", "zip_bomb.keras", "TooLarge", r"config\.json would inflate to \d+ bytes",
        "config.json deflates 65 MB of spaces into ~64 KB")
    write_keras(p("zip_bomb_lying.keras"), config_bytes=b" " * (65 * 1024 * 1024), compress_config=True)

    def small_size(data: bytearray, i: int, central: bool) -> None:
        off = i + (24 if central else 22)
        data[off:off + 4] = struct.pack("<I", 1000)
    _patch_zip_member(p("zip_bomb_lying.keras"), "config.json", small_size)
    err("zip-bomb-lying-size", "zip_bomb_lying.keras", "BadModelFile", r"cannot read config\.json",
        "zip bomb whose headers claim 1000 bytes (reading stops there; CRC fails)")
    write_keras(p("traversal.keras"), extra=[("../../evil.sh", f"#!/bin/sh\n{touch}\n".encode())])
    err("zip-slip-dotdot", "traversal.keras", "UnsafeModel", r"'\.\./\.\./evil\.sh'.*'\.\.' path component",
        "member ../../evil.sh (zip slip)")
    write_keras(p("absolute.keras"), extra=[(zipfile.ZipInfo("/tmp/evil.sh"), touch.encode())])
    err("zip-absolute-path", "absolute.keras", "UnsafeModel", r"absolute path", "member /tmp/evil.sh")
    write_keras(p("backslash.keras"), extra=[("..\\..\\evil.bat", b"echo")])
    err("zip-slip-backslash", "backslash.keras", "UnsafeModel", r"'\.\.' path component",
        r"member ..\..\evil.bat (Windows separators)")
    write_keras(p("drive.keras"), extra=[("C:/Windows/evil.dll", b"MZ")])
    err("zip-drive-letter", "drive.keras", "UnsafeModel", r"absolute path", "member C:/Windows/evil.dll")
    link = zipfile.ZipInfo("assets/link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_keras(p("symlink.keras"), extra=[(link, b"/etc/passwd")])
    err("zip-symlink", "symlink.keras", "UnsafeModel", r"symbolic link", "member is a symlink to /etc/passwd")
    write_keras(p("duplicate.keras"), extra=[("config.json", b'{"class_name": "Evil"}')])
    err("zip-duplicate-member", "duplicate.keras", "BadModelFile", r"duplicate member 'config\.json'",
        "two config.json members")
    with zipfile.ZipFile(p("many_members.keras"), "w") as z:
        z.writestr("config.json", json.dumps(base_config()))
        for i in range(10_001):
            z.writestr(f"assets/{i}", b"")
    err("zip-too-many-members", "many_members.keras", "TooLarge", r"10002 members", "10 002 members")
    write_keras(p("encrypted.keras"))

    def encrypt(data: bytearray, i: int, central: bool) -> None:
        off = i + (8 if central else 6)
        flags = struct.unpack("<H", data[off:off + 2])[0] | 0x1
        data[off:off + 2] = struct.pack("<H", flags)
    _patch_zip_member(p("encrypted.keras"), "config.json", encrypt)
    err("zip-encrypted", "encrypted.keras", "BadModelFile", r"config\.json is encrypted", "encrypted config.json")

    # ---- config.json / metadata.json content
    write_keras(p("config_not_json.keras"), config_bytes=b"{'class_name': Functional,")
    err("config-not-json", "config_not_json.keras", "BadModelFile", r"not valid JSON", "config.json is not JSON")
    write_keras(p("config_not_utf8.keras"), config_bytes=b'{"class_name": "Func\xff\xfetional"}')
    err("config-not-utf8", "config_not_utf8.keras", "BadModelFile", r"not UTF-8", "config.json is Latin-1 garbage")
    write_keras(p("config_deep.keras"), config_bytes=b"[" * 100_000 + b"]" * 100_000, compress_config=True)
    err("config-deep-100k", "config_deep.keras", "TooLarge", r"nested deeper than 200",
        "100 000 nested arrays (recursion bomb)")
    deep: Any = {"class_name": "Functional"}
    for _ in range(300):
        deep = {"config": deep}
    write_keras(p("config_deep300.keras"), config=deep)
    err("config-deep-300", "config_deep300.keras", "TooLarge", r"nested deeper than 200",
        "300 nested objects (parses, but too deep for the reader)")
    write_keras(p("config_values.keras"), config_bytes=b"[" + b"0," * 2_000_001 + b"0]", compress_config=True)
    err("config-too-many-values", "config_values.keras", "TooLarge", r"values \(limit",
        "config.json holds 2 million values (memory bomb under the size cap)")
    write_keras(p("config_list.keras"), config=[1, 2, 3])
    err("config-not-object", "config_list.keras", "BadModelFile", r"no class_name", "config.json is a list")
    write_keras(p("metadata_not_json.keras"), meta=b"\x00\x01garbage")
    err("metadata-not-json", "metadata_not_json.keras", "BadModelFile", r"metadata\.json is not valid JSON",
        "metadata.json is binary")
    write_keras(p("functional_no_layers.keras"), config={"class_name": "Functional", "config": {"name": "m"}})
    err("functional-without-layers", "functional_no_layers.keras", "BadGraph", r"without a layer list",
        "Functional config without a layer list")

    # ---- graph structure
    def mutate(fname: str, fn: Callable[[dict], Any], weights: bytes | None = b"default") -> None:
        cfg = base_config()
        fn(cfg)
        write_keras(p(fname), config=cfg, weights=weights)

    layers = lambda c: c["config"]["layers"]  # noqa: E731

    def hist(c: dict, i: int) -> list:
        return layers(c)[i]["inbound_nodes"][0]["args"][0]["config"]["keras_history"]

    mutate("unknown_ref.keras", lambda c: hist(c, 1).__setitem__(0, "ghost"))
    err("unknown-layer-reference", "unknown_ref.keras", "BadGraph", r"refers to unknown layer 'ghost'",
        "inbound node names a layer that does not exist")
    mutate("cycle.keras", lambda c: hist(c, 1).__setitem__(0, "dense_1"))
    err("cycle", "cycle.keras", "BadGraph", r"cycle", "dense <- dense_1 <- dense")
    mutate("node_index.keras", lambda c: hist(c, 2).__setitem__(1, 5))
    err("node-index-out-of-range", "node_index.keras", "BadGraph", r"node index\) 5 .*out of range",
        "keras_history node index 5 of a layer called once")
    mutate("node_index_negative.keras", lambda c: hist(c, 2).__setitem__(1, -1))
    err("node-index-negative", "node_index_negative.keras", "BadGraph", r"node index\) -1 .*out of range",
        "keras_history node index -1")
    mutate("tensor_index.keras", lambda c: hist(c, 2).__setitem__(2, 10**12))
    err("tensor-index-out-of-range", "tensor_index.keras", "BadGraph", r"output 1000000000000 .*out of range",
        "keras_history tensor index 10**12")
    mutate("bad_history.keras", lambda c: layers(c)[1]["inbound_nodes"][0]["args"][0]["config"]
           .__setitem__("keras_history", "x:0"))
    err("malformed-tensor-reference", "bad_history.keras", "BadGraph", r"malformed tensor reference",
        "keras_history is a string")
    mutate("duplicate_names.keras", lambda c: (layers(c)[2].__setitem__("name", "dense"),
                                               layers(c)[2]["config"].__setitem__("name", "dense")))
    err("duplicate-layer-names", "duplicate_names.keras", "BadGraph", r"two layers are named 'dense'",
        "two layers named dense")
    mutate("layer_no_class.keras", lambda c: layers(c)[1].pop("class_name"))
    err("layer-without-class", "layer_no_class.keras", "BadGraph", r"not a layer config", "layer entry lacks class_name")
    mutate("inbound_not_list.keras", lambda c: layers(c)[1].__setitem__("inbound_nodes", "x"))
    err("inbound-not-list", "inbound_not_list.keras", "BadGraph", r"inbound_nodes that is not a list",
        "inbound_nodes is a string")
    mutate("output_unknown.keras", lambda c: c["config"].__setitem__("output_layers", ["ghost", 0, 0]))
    err("output-unknown-layer", "output_unknown.keras", "BadGraph", r"output_layers refers to unknown layer",
        "output_layers names a missing layer")
    mutate("escape_name.keras", lambda c: (layers(c)[2].__setitem__("name", "\x1b]0;pwned\x07\x1b[2J"),
                                           layers(c)[2]["config"].__setitem__("name", "\x1b]0;pwned\x07\x1b[2J"),
                                           c["config"].__setitem__("output_layers", ["\x1b]0;pwned\x07\x1b[2J", 0, 0])))
    err("terminal-escape-in-name", "escape_name.keras", "BadGraph", r"control characters",
        "layer name carries terminal escape sequences")
    nested: dict = {"module": "keras", "class_name": "Sequential",
                    "config": {"name": "s0", "layers": [input_layer("i0", [None, 3])]}}
    for k in range(1, 40):
        nested = {"module": "keras", "class_name": "Sequential",
                  "config": {"name": f"s{k}", "layers": [input_layer(f"i{k}", [None, 3]), nested]}}
    write_keras(p("nested_too_deep.keras"), config=nested, weights=weights_h5({}))
    err("models-nested-too-deep", "nested_too_deep.keras", "TooLarge", r"nested more than 32",
        "40 Sequential models nested in each other")
    many = functional([{"class_name": "Dense", "config": {}}] * 20_001, [], [])
    write_keras(p("too_many_layers.keras"), config_bytes=json.dumps(many).encode(), compress_config=True)
    err("too-many-layers", "too_many_layers.keras", "TooLarge", r"more than 20,000 layers",
        "20 001 layer entries")
    calls = base_config()
    calls["config"]["layers"][1]["inbound_nodes"] *= 50_001
    write_keras(p("too_many_calls.keras"), config_bytes=json.dumps(calls).encode(), compress_config=True)
    err("too-many-layer-calls", "too_many_calls.keras", "TooLarge", r"more than 50,000 layer calls",
        "one layer called 50 001 times")

    # ---- shapes and hyperparameters
    mutate("negative_shape.keras", lambda c: layers(c)[0]["config"].__setitem__("batch_shape", [None, -5]))
    err("negative-shape", "negative_shape.keras", "BadGraph", r"invalid shape \[null, -5\]", "input shape [None, -5]")
    mutate("absurd_shape.keras", lambda c: layers(c)[0]["config"].__setitem__("batch_shape", [1e12, 1e12]))
    err("absurd-float-shape", "absurd_shape.keras", "BadGraph", r"invalid shape \[1000000000000\.0",
        "input shape [1e12, 1e12]")
    mutate("absurd_int_shape.keras", lambda c: layers(c)[0]["config"].__setitem__(
        "batch_shape", [None, 2_000_000_000, 2_000_000_000, 3]))
    err("absurd-element-count", "absurd_int_shape.keras", "BadGraph", r"absurd shape",
        "input of 1.2e19 elements per sample")
    mutate("tensor_shape.keras", lambda c: layers(c)[2]["inbound_nodes"][0]["args"][0]["config"]
           .__setitem__("shape", [None, -4]))
    err("negative-tensor-shape", "tensor_shape.keras", "BadGraph", r"tensor passed to layer 'dense_1'.*invalid shape",
        "a saved tensor shape [None, -4]")
    mutate("negative_units.keras", lambda c: layers(c)[1]["config"].__setitem__("units", -4))
    err("negative-units", "negative_units.keras", "BadGraph", r"units=-4", "Dense units=-4")

    # ---- weights missing / disagreeing with the config
    write_keras(p("no_weights.keras"), weights=None)
    err("weights-missing", "no_weights.keras", "BadModelFile", r"no model\.weights\.h5", "no model.weights.h5")
    write_keras(p("weights_garbage.keras"), weights=os.urandom(4096))
    err("weights-not-hdf5", "weights_garbage.keras", "BadModelFile", r"not readable HDF5", "weights are random bytes")
    wbytes = weights_h5()
    write_keras(p("weights_truncated.keras"), weights=wbytes[: int(len(wbytes) * 0.6)])
    err("weights-truncated", "weights_truncated.keras", "BadModelFile", r"not readable HDF5|corrupt or truncated",
        "weights HDF5 cut at 60%")
    write_keras(p("weights_shape.keras"), weights=weights_h5({**BASE_WEIGHTS, "dense": ("dense", [(8, 8), (4,)])}))
    err("weights-shape-disagrees", "weights_shape.keras", "WeightsMismatch",
        r"layer 'dense' \(Dense\): weight .* shape \(8, 8\) but the config implies \(3, 4\)",
        "Dense(units=4) with an (8, 8) kernel")
    write_keras(p("weights_bias.keras"), weights=weights_h5({**BASE_WEIGHTS, "dense_1": ("dense_1", [(4, 2), (3,)])}))
    err("weights-bias-disagrees", "weights_bias.keras", "WeightsMismatch", r"shape \(3,\) but the config implies \(2,\)",
        "Dense(units=2) with a bias of 3")
    write_keras(p("weights_group_missing.keras"),
                weights=weights_h5({k: v for k, v in BASE_WEIGHTS.items() if k != "dense_1"}))
    err("weights-group-missing", "weights_group_missing.keras", "WeightsMismatch",
        r"no weights for layer 'dense_1'", "the weights file has no group for dense_1")
    write_keras(p("weights_count.keras"), weights=weights_h5({**BASE_WEIGHTS, "dense": ("dense", [(3, 4)])}))
    err("weights-count-disagrees", "weights_count.keras", "WeightsMismatch", r"has 1 weight arrays.*needs 2",
        "Dense with use_bias but no bias array")
    conv = {"module": "keras.layers", "class_name": "Conv2D",
            "config": {"name": "conv", "trainable": True, "dtype": _policy(), "filters": 4, "kernel_size": [3, 3],
                       "strides": [1, 1], "padding": "valid", "data_format": "channels_last",
                       "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": True},
            "registered_name": None, "build_config": {"input_shape": [None, 8, 8, 3]}, "name": "conv",
            "inbound_nodes": [{"args": [_tensor("img", [None, 8, 8, 3])], "kwargs": {}}]}
    write_keras(p("conv_mismatch.keras"),
                config=functional([input_layer("img", [None, 8, 8, 3]), conv], ["img", 0, 0], ["conv", 0, 0]),
                weights=weights_h5({"input_layer": ("img", []), "conv2d": ("conv", [(3, 3, 3, 5), (4,)])}))
    err("conv-kernel-disagrees", "conv_mismatch.keras", "WeightsMismatch",
        r"'conv' \(Conv2D\).*\(3, 3, 3, 5\) but the config implies \(3, 3, 3, 4\)", "Conv2D(4) with 5 filters saved")

    def external_link(f: h5py.File) -> None:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(sentinel + ".h5", "/kernel")
    write_keras(p("h5_external_link.keras"), weights=weights_h5(tweak=external_link))
    err("hdf5-external-link", "h5_external_link.keras", "UnsafeModel", r"external link 'layers/dense/vars/0'",
        "kernel is an HDF5 external link to another file")

    def soft_link(f: h5py.File) -> None:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.SoftLink("/../../etc/passwd")
    write_keras(p("h5_soft_link.keras"), weights=weights_h5(tweak=soft_link))
    err("hdf5-soft-link", "h5_soft_link.keras", "UnsafeModel", r"soft link 'layers/dense/vars/0'",
        "kernel is a soft link pointing outside the file's tree")

    def external_storage(f: h5py.File) -> None:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(3, 4), dtype="float32", external=[("/etc/passwd", 0, 48)])
    write_keras(p("h5_external_storage.keras"), weights=weights_h5(tweak=external_storage))
    err("hdf5-external-storage", "h5_external_storage.keras", "UnsafeModel", r"external storage",
        "kernel's raw data lives in /etc/passwd (HDF5 external storage)")

    def absurd_dataset(f: h5py.File) -> None:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(10**12, 10**12), dtype="float32", chunks=(1, 1))
    write_keras(p("h5_absurd_dataset.keras"), weights=weights_h5(tweak=absurd_dataset))
    err("hdf5-absurd-dataset", "h5_absurd_dataset.keras", "TooLarge", r"absurd shape \(1000000000000, 1000000000000\)",
        "a 10**24-element kernel (never allocated)")

    def hard_loop(f: h5py.File) -> None:
        f["layers/dense/vars/loop"] = f["layers"]
    write_keras(p("h5_hardlink_loop.keras"), weights=weights_h5(tweak=hard_loop))
    err("hdf5-hard-link-loop", "h5_hardlink_loop.keras", "WeightsMismatch", r"layer 'dense' \(Dense\) has \d+ weight arrays",
        "a group hard-linked into itself (walked once, never in circles)")

    # ---- legacy .h5
    write_h5(p("legacy_weights_only.h5"), with_config=False)
    ok("h5-weights-only", "legacy_weights_only.h5", r"holds weights only \(no architecture\)",
       "save_weights output: read as a weight tree, with a note")
    with h5py.File(p("legacy_empty.h5"), "w"):
        pass
    err("h5-no-model-config", "legacy_empty.h5", "BadModelFile", r"no model_config", "empty HDF5 file")
    write_h5(p("legacy_not_json.h5"), config_attr="{not json")
    err("h5-config-not-json", "legacy_not_json.h5", "BadModelFile", r"model_config is not valid JSON",
        "model_config attribute is not JSON")
    write_h5(p("legacy_config_int.h5"), config_attr=np.int64(7))
    err("h5-config-not-string", "legacy_config_int.h5", "BadModelFile", r"attribute 'model_config' of '/' is not text",
        "model_config attribute is a number")
    write_h5(p("legacy_src.h5"))
    raw = open(p("legacy_src.h5"), "rb").read()
    os.unlink(p("legacy_src.h5"))
    open(p("legacy_truncated.h5"), "wb").write(raw[: len(raw) // 3])
    err("h5-truncated", "legacy_truncated.h5", "BadModelFile", r"not a readable HDF5 file|corrupt or truncated",
        "legacy .h5 cut to a third")
    write_h5(p("legacy_missing_weight.h5"),
             tweak=lambda f: f["model_weights/dense"].attrs.__setitem__(
                 "weight_names", [b"dense/kernel:0", b"dense/bias:0", b"dense/ghost:0"]))
    err("h5-weight-name-missing", "legacy_missing_weight.h5", "WeightsMismatch", r"lists weight 'dense/ghost:0'",
        "weight_names lists a dataset that is not there")
    write_h5(p("legacy_shape.h5"), weights={**LEGACY_WEIGHTS, "dense": [("dense/kernel:0", (3, 5)),
                                                                        ("dense/bias:0", (5,))]})
    err("h5-weights-disagree", "legacy_shape.h5", "WeightsMismatch", r"\(3, 5\) but the config implies \(3, 4\)",
        "legacy Dense(4) with a (3, 5) kernel")

    def legacy_ext(f: h5py.File) -> None:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense/kernel:0"] = h5py.ExternalLink("/etc/passwd", "/")
    write_h5(p("legacy_external_link.h5"), tweak=legacy_ext)
    err("h5-external-link", "legacy_external_link.h5", "UnsafeModel", r"external link .*'/etc/passwd'",
        "legacy kernel is an external link to /etc/passwd")
    raw_lambda = legacy_config()
    raw_lambda["config"]["layers"].append(
        {"class_name": "Lambda", "name": "lam",
         "config": {"name": "lam", "trainable": True, "dtype": "float32", "function": "system",
                    "function_type": "raw", "module": "os", "output_shape": None, "output_shape_type": "raw",
                    "output_shape_module": None, "arguments": {"command": touch}},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]})
    write_h5(p("legacy_lambda_os_system.h5"), config=raw_lambda)
    err("h5-lambda-raw-os-system", "legacy_lambda_os_system.h5", "UnsafeModel", r"'os\.system'.*nothing was executed",
        "Keras 2 Lambda naming os.system (CVE-2025-9905 pattern: safe_mode ignored for .h5)")
    tfop = legacy_config()
    tfop["config"]["layers"].append(
        {"class_name": "TFOpLambda", "name": "tf.io.write_file",
         "config": {"name": "tf.io.write_file", "trainable": True, "dtype": "float32", "function": "io.write_file"},
         "inbound_nodes": [[["input_1", 0, 0, {"contents": "pwned"}]]]})
    write_h5(p("legacy_tfoplambda.h5"), config=tfop)
    err("h5-tfoplambda-write-file", "legacy_tfoplambda.h5", "UnsafeModel", r"tf\.io\.write_file",
        "tf-keras TFOpLambda calling tf.io.write_file")
    pyfunc = legacy_config()
    pyfunc["config"]["layers"].append(
        {"class_name": "TFOpLambda", "name": "tf.compat.v1.py_func",
         "config": {"name": "tf.compat.v1.py_func", "trainable": True, "dtype": "float32",
                    "function": "compat.v1.py_func"},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]})
    write_h5(p("legacy_tfoplambda_py_func.h5"), config=pyfunc)
    err("h5-tfoplambda-compat-py-func", "legacy_tfoplambda_py_func.h5", "UnsafeModel", r"tf\.compat\.v1\.py_func",
        "tf-keras TFOpLambda calling tf.compat.v1.py_func (plain compat.v1 maths such as transpose is read)")

    # ---- configs naming code-running / file-fetching callables (safe-mode CVE patterns)
    def danger(fname: str, layer: dict, message: str, about: str, weights_key: str | None = None) -> None:
        cfg, w = with_layer(layer, weights_key)
        write_keras(p(fname), config=cfg, weights=w)
        err(fname.rsplit(".", 1)[0].replace("_", "-"), fname, "UnsafeModel", message, about)

    danger("cls_os_system.keras",
           {"module": "os", "class_name": "system", "config": {"name": "pwn", "command": touch},
            "registered_name": None, "name": "pwn", "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]},
           r"layer 'pwn' refers to 'os\.system' \(outside Keras\) — refusing; nothing was executed",
           "layer class os.system (CVE-2025-1550 pattern)")
    danger("fn_builtins_exec.keras",
           keras3_lambda("pwn", fn_ref("builtins", "exec"), arguments={"__globals": {}, "source": f"open({sentinel!r}, 'w')"}),
           r"'builtins\.exec'", "Lambda calling builtins.exec (CVE-2025-1550 pattern)")
    danger("get_file.keras",
           keras3_lambda("fetch", fn_ref("keras.utils", "get_file"),
                         arguments={"origin": url, "fname": os.path.basename(sentinel),
                                    "cache_dir": os.path.dirname(sentinel), "cache_subdir": "."}),
           r"'keras\.utils\.get_file'.*downloads", "Lambda calling keras.utils.get_file (CVE-2025-8747)")
    danger("get_file_src.keras",
           keras3_lambda("fetch", fn_ref("keras.src.utils.file_utils", "get_file"), arguments={"origin": url}),
           r"'keras\.src\.utils\.file_utils\.get_file'", "get_file under its keras.src name")
    danger("enable_unsafe.keras",
           keras3_lambda("unsafe", fn_ref("keras.config", "enable_unsafe_deserialization")),
           r"enable_unsafe_deserialization", "turns safe mode off mid-load (CVE-2025-9906)")
    danger("set_global_attribute.keras",
           keras3_lambda("unsafe", fn_ref("keras.src.saving.serialization_lib", "set_global_attribute"),
                         arguments={"value": False}),
           r"set_global_attribute", "serialization_lib.set_global_attribute (CVE-2025-9906 chain)")
    danger("load_model_chain.keras",
           keras3_lambda("chain", fn_ref("keras.models", "load_model"), arguments={"safe_mode": False}),
           r"'keras\.models\.load_model'", "loads a second model with safe_mode=False (CVE-2025-9906 chain)")
    popen = dense("dense_2", 2, "x", [None, 3])
    popen["config"]["kernel_initializer"] = {"module": "subprocess", "class_name": "Popen",
                                             "config": {"args": ["touch", sentinel]}, "registered_name": None}
    danger("initializer_popen.keras", popen, r"layer 'dense_2' refers to 'subprocess\.Popen'",
           "kernel_initializer is subprocess.Popen", weights_key="dense_2")
    reg = keras3_lambda("reg", fn_ref("my_pkg.fns", "double"))
    reg.update({"module": "my_pkg.layers", "class_name": "Frob", "registered_name": "os>system"})
    danger("registered_name.keras", reg, r"'os>system'.*registered_name", "registered_name os>system")
    danger("dotted_class.keras",
           {"class_name": "builtins.exec", "config": {"name": "dotted", "source": touch}, "name": "dotted",
            "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]},
           r"'builtins\.exec'", "class_name builtins.exec without a module")
    danger("importlib.keras",
           {"module": "importlib", "class_name": "import_module", "config": {"name": "imp", "name_": "os"},
            "name": "imp", "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]},
           r"'importlib\.import_module'", "importlib.import_module as a layer class")
    danger("numpy_load.keras", keras3_lambda("npl", fn_ref("numpy", "load"), arguments={"allow_pickle": True}),
           r"'numpy\.load'", "numpy.load(allow_pickle=True) as a function")
    danger("tfsm_layer.keras",
           {"module": "keras.layers", "class_name": "TFSMLayer",
            "config": {"name": "tfsm", "filepath": os.path.dirname(sentinel) + "/saved_model",
                       "call_endpoint": "serve", "trainable": False},
            "registered_name": None, "name": "tfsm",
            "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]},
           r"TFSMLayer\(.*external TensorFlow SavedModel", "TFSMLayer loading an external SavedModel (CVE-2026-1462)")
    danger("string_lookup_path.keras",
           {"module": "keras.layers", "class_name": "StringLookup",
            "config": {"name": "lookup", "vocabulary": "/etc/passwd", "max_tokens": None, "num_oov_indices": 1,
                       "trainable": False, "dtype": "string"},
            "registered_name": None, "name": "lookup",
            "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]},
           r"StringLookup\) reads its vocabulary .*'/etc/passwd'",
           "StringLookup vocabulary=/etc/passwd (CVE-2025-12058: file read / SSRF)")
    cc = base_config()
    cc["compile_config"] = {"optimizer": "adam", "loss": fn_ref("builtins", "eval"), "metrics": None}
    write_keras(p("compile_config_eval.keras"), config=cc)
    err("compile-config-eval", "compile_config_eval.keras", "UnsafeModel", r"'builtins\.eval'",
        "compile_config loss is builtins.eval (runs with load_model(compile=True))")
    act = base_config()
    act["config"]["layers"][1]["config"]["activation"] = fn_ref("posix", "system")
    write_keras(p("activation_posix_system.keras"), config=act)
    err("activation-posix-system", "activation_posix_system.keras", "UnsafeModel", r"layer 'dense' refers to 'posix\.system'",
        "Dense activation is posix.system")

    # ---- expected successes, flagged
    custom = {"module": "my_private_pkg.layers", "class_name": "FrobnicatorLayer",
              "config": {"name": "frob", "trainable": True, "dtype": _policy(), "wobble": 3},
              "registered_name": "MyPkg>FrobnicatorLayer", "build_config": {"input_shape": [None, 3]}, "name": "frob",
              "inbound_nodes": [{"args": [_tensor("x", [None, 3])], "kwargs": {}}]}
    cfg, w = with_layer(custom, "frobnicator_layer", [(3, 3)])
    write_keras(p("unknown_class.keras"), config=cfg, weights=w)
    ok("unknown-layer-class", "unknown_class.keras", r"classes unknown to the inspector \(frob \(FrobnicatorLayer\)\)",
       "a layer class nobody has heard of: shown as an unknown layer", flags={"frob": {"custom": True, "params_trainable": 9}})
    cfg, w = with_layer(keras3_lambda("lam", {"class_name": "__lambda__", "config": {
        "code": lambda_bytecode(sentinel), "defaults": None, "closure": None}}), "lambda", [])
    write_keras(p("lambda_bytecode.keras"), config=cfg, weights=w)
    lambda_cases("lambda-bytecode", "lambda_bytecode.keras",
                 "Lambda with marshalled bytecode that would touch the sentinel (CVE-2024-3660)")
    leg = legacy_config()
    leg["config"]["layers"].append(
        {"class_name": "Lambda", "name": "lam",
         "config": {"name": "lam", "trainable": True, "dtype": "float32",
                    "function": [lambda_bytecode(sentinel), None, None], "function_type": "lambda",
                    "module": "__main__", "output_shape": None, "output_shape_type": "raw",
                    "output_shape_module": None, "arguments": {}},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]})
    write_h5(p("legacy_lambda_bytecode.h5"), config=leg, weights={**LEGACY_WEIGHTS, "lam": []})
    lambda_cases("h5-lambda-bytecode", "legacy_lambda_bytecode.h5",
                 "Keras 2 Lambda bytecode in a legacy .h5 (CVE-2025-9905 pattern)")

    # ---- names that are markup (issue: output safety): shown as their exact text, never interpreted
    for case_name, (n0, n1, n2, model_name) in MARKUP_NAMES.items():
        cfg = functional([input_layer(n0, [None, 3]), dense(n1, 4, n0, [None, 3]), dense(n2, 2, n1, [None, 4], "softmax")],
                         [n0, 0, 0], [n2, 0, 0], name=model_name)
        w = weights_h5({"input_layer": (n0, []), "dense": (n1, [(3, 4), (4,)]), "dense_1": (n2, [(4, 2), (2,)])},
                       model_name=model_name)
        write_keras(p(f"{case_name}.keras"), config=cfg, weights=w)
        ok(case_name, f"{case_name}.keras", "", "layer and model names that are HTML/DOT/Markdown markup: every "
           "output shows them as text", flags={n1: {"params_trainable": 16}, n2: {"params_trainable": 10}})

    cfg = functional([input_layer("x", [None, 3]), dense("admin\u202e\u2066txt.exe\u2069\u202c", 4, "x", [None, 3])],
                     ["x", 0, 0], ["admin\u202e\u2066txt.exe\u2069\u202c", 0, 0])
    write_keras(p("bidi_override_name.keras"), config=cfg,
                weights=weights_h5({"input_layer": ("x", []), "dense": ("admin\u202e\u2066txt.exe\u2069\u202c", [(3, 4), (4,)])}))
    err("bidi-override-in-name", "bidi_override_name.keras", "BadGraph", r"control characters or bidirectional overrides",
        "a layer name with bidirectional overrides (Trojan Source) would show other text than it holds")

    with open(p("manifest.json"), "w") as f:
        json.dump({"sentinel": sentinel, "url": url, "cases": [asdict(c) for c in cases]}, f, indent=1)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--sentinel", default=None, help="file any executed payload would create")
    ap.add_argument("--url", default="http://127.0.0.1:9/payload.bin", help="URL any download would fetch")
    args = ap.parse_args()
    sentinel = args.sentinel or os.path.join(os.path.abspath(args.outdir), "SENTINEL-must-not-exist")
    cases = build(args.outdir, sentinel, args.url)
    errors = sum(c.expect == "error" for c in cases)
    print(f"wrote {len(cases)} cases ({errors} errors, {len(cases) - errors} flagged successes) to {args.outdir}")


if __name__ == "__main__":
    main()
