"""Untrusted model configs, read as text: nothing is imported, looked up or called.

:func:`audit_config` reads every ``module`` / ``class_name`` / ``registered_name`` /
function reference in the config and refuses (``UnsafeModel``) those naming Python's
code-running, file or network functions (``os.system``, ``builtins.exec``,
``subprocess.Popen``...), Keras's own gadgets that fetch files or switch safe mode off
(``keras.utils.get_file``, ``keras.config.enable_unsafe_deserialization``,
``keras.models.load_model``...), ``TFSMLayer`` (loads an external SavedModel) and lookup
layers whose vocabulary is a file path; it also caps the layer and call counts.
:func:`check_shape` and :func:`_check_hyperparameters` refuse absurd saved shapes and
sizes; :func:`code_flags` / :func:`_is_known` flag Lambda code and classes from outside
Keras. Used by :mod:`inspector.readers.config_graph` (static reader) and :mod:`inspector.readers.live.walk`.
"""
from __future__ import annotations

import functools
import re
from typing import Any

from inspector.errors import BadGraph, TooLarge, UnsafeModel, quote
from inspector.layers.kinds import is_op

#: Most layer entries a config may hold, nested models included (NASNetLarge: ~1 000).
MAX_LAYERS = 20_000
#: Most layer calls (graph nodes) a config may describe, nested models included.
MAX_NODES = 50_000
#: Largest single dimension / per-sample element count accepted in a saved shape.
MAX_SHAPE_DIM = 2**31 - 1
MAX_SHAPE_ELEMENTS = 2**40


def entry_name(e: dict, i: int = 0) -> str:
    name = e.get("name")
    if not isinstance(name, str):
        cfg = e.get("config")
        name = cfg.get("name") if isinstance(cfg, dict) else None
    return name if isinstance(name, str) and name else f"{e.get('class_name', 'layer')}_{i}"


def check_shape(v: Any, what: str, path: str) -> None:
    """Refuse saved shapes with negative, fractional or absurd dimensions.

    Accepts what is not a shape at all (None, serialized TensorShape dicts) and
    nested lists of shapes (multi-input build shapes); ``-1`` and ``None`` mean unknown.
    """
    if not isinstance(v, list):
        return
    stack = [v]
    while stack:
        cur = stack.pop()
        if len(stack) > 1000:
            break
        if cur and all(isinstance(d, list) for d in cur):
            stack.extend(cur)
            continue
        if not all(d is None or isinstance(d, (int, float)) for d in cur):
            continue  # not a plain shape (dicts, strings): never used as one
        n = 1
        for d in cur:
            if d is None or d == -1 and isinstance(d, int) and not isinstance(d, bool):
                continue
            if isinstance(d, bool) or isinstance(d, float) or d < 0 or d > MAX_SHAPE_DIM:
                raise BadGraph(f"{what} has an invalid shape {_fmt_shape(cur)} (dimensions must be whole "
                               f"numbers from 0 to {MAX_SHAPE_DIM:,}, or null)", path)
            n *= d
        if n > MAX_SHAPE_ELEMENTS:
            raise BadGraph(f"{what} has an absurd shape {_fmt_shape(cur)} ({n:.3g} elements per sample)", path)


def _fmt_shape(shape: list) -> str:
    text = "[" + ", ".join("null" if d is None else repr(d) for d in shape[:8]) + (", ..." if len(shape) > 8 else "") + "]"
    return text[:120]


#: Integer hyperparameters of Keras layers that must be positive whole numbers.
_POSITIVE_INTS = ("units", "filters", "input_dim", "output_dim", "num_heads", "key_dim", "depth_multiplier")


def _check_hyperparameters(e: dict, name: str, path: str) -> None:
    cfg = e.get("config") or {}
    for key in _POSITIVE_INTS:
        v = cfg.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) or v <= 0 or v > MAX_SHAPE_DIM:
            raise BadGraph(f"layer {quote(name)} ({e['class_name']}) has {key}={v!r:.40} "
                           f"(must be a whole number from 1 to {MAX_SHAPE_DIM:,})", path)


KERAS_ROOTS = frozenset({"keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras", "keras_rs"})
#: Classes the inspector knows without a module (legacy configs carry none).
_BUILTIN_CLASSES = frozenset({"InputLayer", "Lambda", "TFOpLambda", "SlicingOpLambda", "Functional",
                              "Sequential", "Model"})


def _known_class_names() -> frozenset[str]:
    from inspector.layers import costs, shapes

    names = set(getattr(shapes, "_LAYERS", {})) | set(_BUILTIN_CLASSES)
    names |= set(getattr(costs, "_HANDLERS", {}))
    return frozenset(names)


_KNOWN: frozenset[str] | None = None


def _is_known(e: dict) -> bool:
    """True for a class of Keras (or keras-hub/-cv/-nlp); False for classes from anywhere else."""
    global _KNOWN
    module = e.get("module")
    if isinstance(module, str) and module:
        return _root(_normalize(module)) in KERAS_ROOTS or module.startswith("tensorflow.keras") \
            or module.startswith("tensorflow.python.keras")
    cls = e.get("class_name", "")
    if ">" in cls or "." in cls:
        return False
    if _KNOWN is None:
        _KNOWN = _known_class_names()
    return cls in _KNOWN or is_op(e)


def code_flags(e: dict) -> dict[str, Any]:
    """Node attributes describing code a layer carries: ``code`` (Lambda bytecode, never decoded),
    ``function`` (a named Python function it calls)."""
    out: dict[str, Any] = {}
    cfg = e.get("config")
    if not isinstance(cfg, dict):
        return out
    stack: list[Any] = [v for k, v in cfg.items() if k != "layers"]
    fn = cfg.get("function")
    if isinstance(fn, list) and cfg.get("function_type") == "lambda":  # Keras 2: [b64 code, defaults, closure]
        out["code"] = True
        out["code_bytes"] = len(fn[0]) if fn and isinstance(fn[0], str) else None
    elif isinstance(fn, str) and cfg.get("function_type") == "raw":
        out["function"] = f"{cfg.get('module') or '?'}.{fn}"
    if isinstance(cfg.get("output_shape"), list) and cfg.get("output_shape_type") == "lambda":
        out["code"] = True
    seen = 0
    while stack and seen < 100_000:
        v = stack.pop()
        seen += 1
        if isinstance(v, dict):
            if v.get("class_name") == "__lambda__":
                out["code"] = True
                inner = v.get("config")
                code = inner.get("code") if isinstance(inner, dict) else None
                out["code_bytes"] = len(code) if isinstance(code, str) else out.get("code_bytes")
            elif v.get("class_name") == "function" and isinstance(v.get("config"), str):
                out.setdefault("function", f"{v.get('module') or '?'}.{v['config']}")
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


# Python modules whose functions run code, touch files or the network, or (de)serialise objects.
DANGEROUS_MODULES = frozenset("""
os posix nt posixpath ntpath subprocess sys builtins __builtin__ __builtins__
importlib imp zipimport pkgutil runpy code codeop types ctypes cffi _ctypes gc inspect
shutil tempfile pathlib io _io fileinput glob fnmatch zipfile tarfile gzip bz2 lzma shelve dbm
pickle cPickle _pickle dill cloudpickle joblib marshal copyreg
socket ssl select selectors asyncio http urllib urllib2 urllib3 requests httpx aiohttp ftplib smtplib
telnetlib poplib imaplib xmlrpc socketserver webbrowser
threading _thread multiprocessing concurrent signal pty tty fcntl resource
platform sysconfig site pdb bdb timeit trace profile cProfile operator functools
commands popen2 distutils setuptools pip
""".split())

# Callables that run code or fetch/write files, whatever module they are said to come from.
DANGEROUS_NAMES = frozenset("""
exec eval compile __import__ execfile system popen popen2 popen3 Popen spawn spawnl spawnv spawnve
execl execle execlp execv execve execvp fork forkpty getattr setattr delattr globals locals vars
breakpoint open get_file load_model model_from_json model_from_config enable_unsafe_deserialization
set_global_attribute func_load import_module loads load_op_library load_library write_file read_file
py_function numpy_function py_func remove rmtree unlink rmdir
""".split())

# Keras / TensorFlow entry points that download or read files, run SavedModels or switch safe mode off
# (prefixes of the normalised dotted name; see _normalize).
DANGEROUS_PREFIXES = (
    "keras.utils.get_file", "keras.utils.file_utils", "keras.utils.python_utils", "keras.utils.io_utils",
    "keras.utils.load_img", "keras.utils.dataset_utils", "keras.utils.image_dataset",
    "keras.utils.text_dataset", "keras.utils.audio_dataset", "keras.utils.timeseries_dataset",
    "keras.config.enable_unsafe_deserialization", "keras.saving", "keras.models.load_model",
    "keras.models.model_from_json", "keras.legacy.saving", "keras.export", "keras.layers.TFSMLayer",
    "keras.datasets", "keras.backend.tensorflow.saved_model",
    "tensorflow.io", "tensorflow.saved_model", "tensorflow.py_function", "tensorflow.numpy_function",
    "tensorflow.compat", "tensorflow.raw_ops", "tensorflow.data", "tensorflow.summary",
    "tensorflow.load_op_library", "tensorflow.load_library", "tensorflow.debugging",
    "tensorflow.python.ops.script_ops", "tensorflow.python.ops.io_ops", "tensorflow.python.ops.gen_io_ops",
    "tensorflow.python.lib.io", "tensorflow.python.platform.gfile", "tensorflow.python.saved_model",
    "numpy.load", "numpy.fromfile", "numpy.loadtxt", "numpy.genfromtxt", "numpy.memmap", "numpy.save",
    "numpy.lib.npyio", "numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing",
)

# Prefixes refused only for *functions* (Keras's own layer classes live there too).
DANGEROUS_FUNCTION_PREFIXES = ("keras.applications", "keras_hub.models", "keras_nlp.models", "keras_cv.models")

# TFOpLambda (tf-keras) names a TensorFlow function relative to `tf`.
_TF_OP_DANGEROUS = ("io.", "py_function", "numpy_function", "compat.", "raw_ops.", "saved_model.", "data.",
                    "summary.", "debugging.", "load_op_library", "load_library", "keras.utils.get_file")

_LOOKUP_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})

_ALIASES = (
    ("keras._tf_keras.keras.", "keras."), ("tensorflow.python.keras.", "keras."), ("tensorflow.keras.", "keras."),
    ("tf.keras.", "keras."), ("tf_keras.src.", "keras."), ("tf_keras.", "keras."), ("keras.src.", "keras."),
    ("keras.api.", "keras."), ("tf.", "tensorflow."), ("np.", "numpy."),
)


@functools.lru_cache(maxsize=4096)
def _normalize(dotted: str) -> str:
    """Map the many spellings of Keras/TF modules to one (``keras.src.utils`` -> ``keras.utils``)."""
    s = dotted.strip().replace(">", ".").replace(":", ".")
    for _ in range(3):
        for old, new in _ALIASES:
            if s.startswith(old):
                s = new + s[len(old):]
    return s


def _root(dotted: str) -> str:
    return dotted.split(".", 1)[0]


@functools.lru_cache(maxsize=4096)
def _danger(module: str | None, name: str | None, function: bool = False) -> str | None:
    """Why ``module.name`` is refused (None if it is not); ``function``: it is called as a function."""
    full = _normalize(".".join(p for p in (module, name) if p))
    if not full:
        return None
    parts = full.split(".")
    if parts[0] in DANGEROUS_MODULES:
        return "outside Keras"
    for p in DANGEROUS_PREFIXES + (DANGEROUS_FUNCTION_PREFIXES if function else ()):
        if full == p or full.startswith(p + ".") or full.startswith(p) and p.endswith(("_", "dataset")):
            return "a Keras/TensorFlow function that reads or downloads files or switches safe mode off"
    if name and name.split(".")[-1].split(">")[-1] in DANGEROUS_NAMES:
        return "a function that runs code or touches files"
    return None


class ConfigAudit:
    """What :func:`audit_config` found: total layer entries, and the config's notes."""

    def __init__(self) -> None:
        self.layers = 0
        self.nodes = 0


def audit_config(config: Any, path: str) -> ConfigAudit:
    """Refuse configs that name code-running, file- or network-reaching callables; count layers.

    Reads every dict of the config (compile_config and nested objects included)
    as text: nothing is imported, looked up or called.
    """
    audit = ConfigAudit()
    stack: list[tuple[Any, str]] = [(config, "the model config")]
    labels: dict[int, str] = {}
    while stack:
        obj, where = stack.pop()
        if type(obj) is list:
            for v in obj:
                if type(v) is dict or type(v) is list:
                    stack.append((v, where))
            continue
        if type(obj) is not dict:
            continue
        where = labels.get(id(obj), where)
        cfg = obj.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("layers"), list):
            audit.layers += len(cfg["layers"])
            if audit.layers > MAX_LAYERS:
                raise TooLarge(f"the config lists more than {MAX_LAYERS:,} layers", path)
            for i, entry in enumerate(cfg["layers"]):
                if isinstance(entry, dict):
                    labels[id(entry)] = f"layer {quote(entry_name(entry, i))}"
                    inbound = entry.get("inbound_nodes")
                    audit.nodes += max(1, len(inbound) if isinstance(inbound, list) else 1)
            if audit.nodes > MAX_NODES:
                raise TooLarge(f"the config describes more than {MAX_NODES:,} layer calls", path)
        if "class_name" in obj or "module" in obj or "registered_name" in obj or "function" in obj:
            _audit_object(obj, where, path)
        for v in obj.values():
            if type(v) is dict or type(v) is list:
                stack.append((v, where))
    return audit


def _refuse(where: str, ref: str, why: str, path: str, extra: str = "") -> None:
    raise UnsafeModel(f"{where} refers to {ref} ({why}){extra} — refusing; nothing was executed", path)


def _plain_compat_math(op: str) -> bool:
    """tf-keras saves plain ``tf.transpose``, ``tf.squeeze``, ``tf.gather``, ``x // y`` ... under
    ``compat.v1.*`` names. Those the shape rules model (pure array maths) are not refused with
    the rest of ``tf.compat`` (which also holds ``py_func``, ``gfile``, sessions)."""
    from inspector.layers.seq import TF_FUNCTIONS

    return op.startswith("compat.v1.") and op in TF_FUNCTIONS


def _audit_object(obj: dict, where: str, path: str) -> None:
    module = obj.get("module") if isinstance(obj.get("module"), str) else None
    cls = obj.get("class_name") if isinstance(obj.get("class_name"), str) else None
    reg = obj.get("registered_name") if isinstance(obj.get("registered_name"), str) else None
    cfg = obj.get("config")
    short = re.split(r"[.>]", cls)[-1] if cls else None
    # layers that load files or SavedModels by design
    if short == "TFSMLayer":
        target = cfg.get("filepath") if isinstance(cfg, dict) else None
        _refuse(where, f"TFSMLayer({quote(target)})", "it loads and runs an external TensorFlow SavedModel", path)
    if short in ("TFOpLambda", "SlicingOpLambda") and isinstance(cfg, dict):
        op = cfg.get("function")
        if isinstance(op, str) and not _plain_compat_math(op) and (
                op.startswith(_TF_OP_DANGEROUS) or _danger("tensorflow", op)):
            _refuse(where, quote(f"tf.{op}"), "a TensorFlow function that touches files or runs Python", path)
    if short in _LOOKUP_LAYERS and isinstance(cfg, dict):
        for key in ("vocabulary", "idf_weights", "vocabulary_file"):
            v = cfg.get(key)
            if isinstance(v, str) and v:
                raise UnsafeModel(f"{where} ({short}) reads its {key} from a path or URL ({quote(v)}), which "
                                  "Keras would open on load — refusing; nothing was read", path)
    # Keras 2 Lambda with a named function: {"function": "system", "function_type": "raw", "module": "os"}
    fn = obj.get("function")
    if isinstance(fn, str) and obj.get("function_type") == "raw":
        why = _danger(module, fn, True)
        if why:
            _refuse(where, quote(f"{module}.{fn}" if module else fn), why, path)
    # a serialized function: {"module": m, "class_name": "function", "config": "name"}
    if cls == "function" and isinstance(cfg, str):
        why = _danger(module, cfg, True)
        if why:
            _refuse(where, quote(f"{module}.{cfg}" if module else cfg), why, path)
    elif cls:
        why = _danger(module, cls) if module else None
        if why is None and ("." in cls or ">" in cls):
            why = _danger(None, cls)
            if why is None and _root(_normalize(cls)) in DANGEROUS_MODULES:
                why = "outside Keras"
        if why:
            _refuse(where, quote(f"{module}.{cls}" if module else cls), why, path)
    if module and _root(_normalize(module)) in DANGEROUS_MODULES:
        _refuse(where, quote(module), "a module outside Keras", path)
    if reg and reg not in ("function", "__lambda__"):
        pkg, _, name = reg.rpartition(">") if ">" in reg else reg.rpartition(".")
        why = _danger(pkg or None, name) if pkg else (_danger(None, name) if name in DANGEROUS_NAMES else None)
        if why:
            _refuse(where, quote(reg), why, path, " in registered_name")
