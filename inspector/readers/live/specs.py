"""Command-line model specs: ``path/to/file.py:NAME``, ``package.module:NAME``,
``--arg key=value`` and ``--input name=shape[:dtype]``.

A Python spec is *code*: naming one is the user's explicit request to run it
(import the module, construct the class or call the factory), which is why the
CLI never treats a plain ``.keras``/``.h5`` path as one. Every problem is
reported as an :class:`InspectorError` naming the spec, never a traceback.

Also here, for the tracer: which inputs a model takes (:func:`model_input_specs`,
from ``--input``, the shapes Keras recorded at build time, or an error naming
the dict keys its ``call`` reads), how to pass them (:func:`call_template`),
and how a received shape violates a layer's ``InputSpec`` (:func:`input_mismatch`).
This module imports Keras only when it has to tell a model from other objects.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

from inspector.errors import InspectorError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENT}(\.{_IDENT})*$")
_DTYPES = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "uint16", "uint32", "uint64", "bool", "string", "complex64", "complex128"}


@dataclass(frozen=True)
class InputSpec:
    """One model input for tracing: ``shape`` excludes the batch dimension (like ``keras.Input``)."""

    name: str
    shape: tuple
    dtype: str = "float32"

    def __str__(self) -> str:
        dims = ",".join("None" if d is None else str(d) for d in self.shape)
        return f"{self.name}={dims}:{self.dtype}"


# --------------------------------------------------------------------------- specs
def is_python_spec(model: str) -> bool:
    """``file.py:NAME`` or ``pkg.module:NAME`` (a Keras file path is never one).

    ``file.py:`` (NAME left out) is refused here, or it would be reported as a missing file.
    """
    if ":" not in model or os.path.isfile(model):
        return False
    if model.endswith(":") and model[:-1].endswith(".py"):
        raise InspectorError(f"{model} — no object name after ':' (give FILE.py:NAME, e.g. a model, class or "
                             "factory defined in the file)")
    target, _, name = model.rpartition(":")
    if not _DOTTED.match(name):
        return False
    return target.endswith(".py") or bool(_DOTTED.match(target))


def resolve_spec(spec: str, args: dict[str, Any] | None = None) -> Any:
    """Import the spec's module and return NAME as a Keras layer/model instance.

    NAME may be an instance, a class (constructed with ``args``) or a factory
    (called with ``args``; zero arguments when none are given).
    """
    target, _, name = spec.rpartition(":")
    module = _import(target, spec)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise InspectorError(f"{target} has no attribute {name!r}{_candidates(module)}", spec)
        obj = getattr(obj, part)
    return instantiate(obj, name, args or {}, spec)


def instantiate(obj: Any, name: str, args: dict[str, Any], spec: str) -> Any:
    """Turn a spec's NAME (instance, class or factory) into a layer instance."""
    from inspector.readers.live.loading import import_keras

    keras = import_keras()
    if isinstance(obj, keras.layers.Layer):
        if args:
            raise InspectorError(f"{name} is already a model instance; --arg only applies to classes "
                                 "and factories", spec)
        return obj
    if isinstance(obj, type) or callable(obj):
        what = "constructing" if isinstance(obj, type) else "calling"
        try:
            result = obj(**args)
        except TypeError as e:
            raise InspectorError(f"{what} {name}({_fmt_args(args)}) failed: {_first_line(e)}"
                                 f"{_arg_hint(obj)}", spec) from None
        except SystemExit as e:  # the user's code must not choose our exit code (or exit silently)
            raise InspectorError(f"{what} {name}({_fmt_args(args)}) called sys.exit({e.code!r}){_user_line(e)}",
                                 spec) from None
        except Exception as e:  # the user's code failed: say where, not a traceback of ours
            raise InspectorError(f"{what} {name}({_fmt_args(args)}) failed: {type(e).__name__}: "
                                 f"{_first_line(e)}{_user_line(e)}", spec) from None
        if not isinstance(result, keras.layers.Layer):
            raise InspectorError(f"{name}(...) returned a {type(result).__name__}, not a Keras model", spec)
        return result
    raise InspectorError(f"{name} is a {type(obj).__name__}, not a Keras model, model class or factory", spec)


def _import(target: str, spec: str) -> Any:
    """Import ``file.py`` (as its package module when inside one) or a dotted module name."""
    if target.endswith(".py"):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise InspectorError("no such Python file", target)
        root, parts = os.path.dirname(path), [os.path.splitext(os.path.basename(path))[0]]
        while os.path.isfile(os.path.join(root, "__init__.py")):
            root, pkg = os.path.split(root)
            parts.insert(0, pkg)
        modname = ".".join(parts)
        if not all(_DOTTED.match(p) for p in parts):
            return _import_path(path, spec)
        if root not in sys.path:
            sys.path.insert(0, root)
        existing = sys.modules.get(modname)
        if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") != path:
            return _import_path(path, spec)
        return _guarded(lambda: importlib.import_module(modname), target)
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)  # as `python -m` would
    try:
        return _guarded(lambda: importlib.import_module(target), target)
    except InspectorError as e:
        cause = e.__cause__
        if isinstance(cause, ModuleNotFoundError) and cause.name and (target + ".").startswith(cause.name + "."):
            raise InspectorError(f"cannot import module {target!r} (not installed, and not under "
                                 f"{cwd})", spec) from None
        raise


def _import_path(path: str, spec: str) -> Any:
    name = "_inspector_spec_" + re.sub(r"\W", "_", path)
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InspectorError("cannot import this file", path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    if os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    return _guarded(lambda: (loader_spec.loader.exec_module(module), module)[1], path)


def _guarded(fn: Any, where: str) -> Any:
    from inspector.readers.live.loading import import_keras

    import_keras()  # first, so TensorFlow's start-up noise is handled before the user's module imports it
    try:
        return fn()
    except SyntaxError as e:
        raise InspectorError(f"syntax error at line {e.lineno}: {e.msg}", where) from None
    except SystemExit as e:
        raise InspectorError(f"importing it called sys.exit({e.code!r}){_user_line(e)}", where) from None
    except Exception as e:
        raise InspectorError(f"importing it failed: {type(e).__name__}: {_first_line(e)}{_user_line(e)}",
                             where) from e


def _candidates(module: Any) -> str:
    names = [k for k, v in vars(module).items() if not k.startswith("_") and (inspect.isclass(v) or callable(v))
             and getattr(v, "__module__", None) == module.__name__]
    return f"; it defines {', '.join(sorted(names)[:12])}" if names else ""


def _arg_hint(obj: Any) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    required = [p.name for p in sig.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return f" (pass {' '.join(f'--arg {r}=VALUE' for r in required)})" if required else ""


def _fmt_args(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_KERAS_WRAPPER = re.compile(r"^Exception encountered when calling [^\n]*\n\s*(\x1b\[1m)?")


def _first_line(e: BaseException) -> str:
    """The message's first line, under Keras's wrappers ("Exception encountered when calling X",
    "Could not automatically infer the output shape ... Error encountered:"), whose first lines
    say nothing, and without TensorFlow's op-graph preamble or terminal colour codes."""
    s = str(e).strip()
    for _ in range(32):  # one round per wrapper; nested layers nest them
        t = _KERAS_WRAPPER.sub("", s).lstrip()
        head = t.split("\n", 1)[0]
        if "Error encountered:" in head:
            t = t.split("Error encountered:", 1)[1].lstrip()
        if t == s:
            break
        s = t
    s = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", _ANSI.sub("", s)).split(" for '{{node ")[0]
    lines = [line for line in s.splitlines() if line.strip()]
    return lines[0].strip()[:300] if lines else type(e).__name__


def _user_line(e: BaseException) -> str:
    """`` (at file.py:LINE)`` for the innermost frame of the user's own code."""
    tb, found = e.__traceback__, None
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if not _library_file(f):
            found = (f, tb.tb_lineno)
        tb = tb.tb_next
    return f" (at {_rel(found[0])}:{found[1]})" if found else ""


def _library_file(filename: str) -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    return ("site-packages" in filename or "dist-packages" in filename or filename.startswith("<")
            or os.path.abspath(filename).startswith(here + os.sep) or "/lib/python3" in filename)


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


# --------------------------------------------------------------------------- --arg / --input
def parse_args(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are Python literals when they parse as one, else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not re.match(rf"^{_IDENT}$", key):
            raise InspectorError(f"--arg {item!r}: expected KEY=VALUE with KEY a Python identifier")
        try:
            out[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            out[key] = raw.strip()
    return out


def parse_inputs(items: tuple[str, ...] | list[str]) -> list[InputSpec]:
    """``name=d1,d2,...[:dtype]`` (no batch dim; ``None``/``?`` for an unknown dim)."""
    specs: list[InputSpec] = []
    for item in items:
        name, sep, rest = item.partition("=")
        name = name.strip()
        if not sep or not re.match(rf"^{_IDENT}$", name):
            raise InspectorError(f"--input {item!r}: expected NAME=SHAPE[:DTYPE], e.g. x=32,32,3 or "
                                 "tokens=128:int32")
        shape_txt, _, dtype = rest.partition(":")
        dtype = dtype.strip() or "float32"
        if dtype not in _DTYPES:
            raise InspectorError(f"--input {item!r}: unknown dtype {dtype!r} (one of {', '.join(sorted(_DTYPES))})")
        dims: list[int | None] = []
        body = shape_txt.strip().strip("()[]").strip().rstrip(",")
        for d in (body.split(",") if body else []):
            d = d.strip()
            if d in ("None", "none", "?", "-1"):
                dims.append(None)
            elif d.isdigit() and 0 < int(d) <= 2**31:
                dims.append(int(d))
            else:
                raise InspectorError(f"--input {item!r}: dimension {d!r} is not a positive integer or None "
                                     "(the batch dimension is left out)")
        if any(s.name == name for s in specs):
            raise InspectorError(f"--input {name} is given twice")
        specs.append(InputSpec(name, tuple(dims), dtype))
    return specs


# --------------------------------------------------------------------------- a model's inputs
def model_input_specs(model: Any, given: Any) -> tuple[list[InputSpec], str]:
    """Input specs for tracing ``model`` and how they are passed (``single|dict|list|params|auto``).

    ``given``: InputSpecs or ``"name=shape[:dtype]"`` strings, a ``{name: shape}`` dict, one shape,
    or None for the shapes Keras recorded when the model was built. Raises :class:`InspectorError`
    saying exactly which ``--input`` options to pass when nothing says what the inputs are.
    """
    params = _call_params(model)
    first = params[0] if params else "inputs"
    if given is None:
        return _build_specs(model, first)
    if isinstance(given, dict):
        return [v if isinstance(v, InputSpec) else _spec(k, v) for k, v in given.items()], "auto"
    if isinstance(given, tuple) and all(d is None or isinstance(d, int) for d in given):
        return [InputSpec(first, tuple(given))], "auto"
    out = []
    for item in given:
        out.extend(parse_inputs([item]) if isinstance(item, str) else [item])
    if not out:
        return _build_specs(model, first)
    return out, "auto"


def _spec(name: str, v: Any) -> InputSpec:
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str) and isinstance(v[0], (tuple, list)):
        return InputSpec(name, tuple(v[0]), v[1])
    return InputSpec(name, tuple(v))


def _build_specs(model: Any, first: str) -> tuple[list[InputSpec], str]:
    bc = model.get_build_config() if getattr(model, "built", False) else None
    shape = (bc or {}).get("input_shape")
    if isinstance(shape, dict):
        return [InputSpec(str(k), tuple(s)[1:]) for k, s in shape.items()], "dict"
    if _is_shape(shape) and len(_call_params(model)) <= 1:
        return [InputSpec(first, tuple(shape)[1:])], "single"
    if isinstance(shape, (list, tuple)) and shape and all(_is_shape(s) for s in shape):
        return [InputSpec(f"{first}_{i}", tuple(s)[1:]) for i, s in enumerate(shape)], "list"
    sd = (bc or {}).get("shapes_dict")
    if isinstance(sd, dict) and all(_is_shape(s) for s in sd.values()):
        return [InputSpec(re.sub(r"_shape$", "", k), tuple(s)[1:]) for k, s in sd.items()], "params"
    params = _call_params(model) or ["inputs"]
    keys = _probe_keys(model) if len(params) == 1 else []
    example = " ".join(f"--input {p}=SHAPE" for p in (keys or params))
    if keys:
        raise InspectorError(
            f"the input shapes of {type(model).__name__} {model.name!r} are unknown (it was never built); its "
            f"call reads the dict keys {', '.join(keys)}: pass {example} (SHAPE without the batch dimension, "
            "e.g. 10000 or 32,32,3 or 128:int32)")
    raise InspectorError(
        f"the input shapes of {type(model).__name__} {model.name!r} are unknown (Keras recorded none: "
        "it was never built, or its call cannot run symbolically); "
        f"pass them with {example} (SHAPE without the batch dimension, e.g. 32,32,3 or 128:int32"
        + ("; for dict inputs give one --input per key, e.g. --input title=10000 --input tags=100)"
           if len(params) == 1 else ")"))


class _Stop(Exception):
    pass


def _probe_keys(model: Any) -> list[str]:
    """Dict keys ``model.call`` reads before its first layer call (which is stopped before it runs)."""
    from keras.src.layers.layer import Layer

    keys: list[str] = []

    class Keys(dict):
        def __getitem__(self, k: Any) -> Any:
            if isinstance(k, str) and k not in keys:
                keys.append(k)
            return object()

        def get(self, k: Any, default: Any = None) -> Any:
            return self[k]

    original = Layer.__call__

    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise _Stop()

    Layer.__call__ = stop
    try:
        model.call(Keys())
    except Exception:  # _Stop, or the placeholder objects meeting real code: either way we are done
        pass
    finally:
        Layer.__call__ = original
    return keys


def _is_shape(s: Any) -> bool:
    return isinstance(s, (tuple, list)) and len(s) >= 1 and all(d is None or isinstance(d, int) for d in s)


def _call_params(model: Any, optional: bool = False) -> list[str]:
    """Names of ``call``'s required tensor parameters (with ``optional``: every named one but ``training``)."""
    try:
        sig = inspect.signature(model.call)
    except (TypeError, ValueError):
        return []
    if optional:
        return [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                and p.name != "training"]
    return [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty and p.name not in ("training", "mask")]


Template = Callable[[list], tuple[tuple, dict, Any]]


def call_template(model: Any, specs: list[InputSpec], kind: str) -> Template:
    """How to call ``model.call`` with one tensor per spec: (args, kwargs, the twin's inputs)."""
    names = [s.name for s in specs]
    params = _call_params(model)
    if kind == "list":
        return lambda ts: ((list(ts),), {}, list(ts))
    every = _call_params(model, optional=True)
    if kind == "auto" and len(names) > 1 and set(params) <= set(names) <= set(every):
        # ``call(x, mask=None)`` given --input x --input mask: each tensor goes to its parameter
        order = [names.index(p) for p in every if p in names]
        pos = [names.index(p) for p in params]
        return lambda ts: (tuple(ts[i] for i in pos), {names[i]: ts[i] for i in order if i not in pos},
                           [ts[i] for i in order])
    if kind == "params" or (kind == "auto" and len(params) > 1 and set(params) <= set(names)):
        order = [names.index(p) for p in params if p in names] or list(range(len(names)))
        return lambda ts: (tuple(ts[i] for i in order), {}, [ts[i] for i in order])
    if len(specs) == 1 and kind != "dict":
        return lambda ts: ((ts[0],), {}, ts[0])
    return lambda ts: (({n: t for n, t in zip(names, ts)},), {}, {n: t for n, t in zip(names, ts)})


def input_mismatch(layer: Any, tensors: list) -> tuple[str | None, str | None, str]:
    """(expected, received, detail) from the layer's InputSpec, when a received shape violates it."""
    specs = layer.input_spec
    specs = list(specs) if isinstance(specs, (list, tuple)) else [specs] * (1 if specs is not None else 0)
    for spec, t in zip(specs, tensors):
        shape = tuple(t.shape) if hasattr(t, "shape") else None
        if spec is None or shape is None:
            continue
        received = _fmt(shape)
        if spec.shape is not None and (len(spec.shape) != len(shape) or any(
                a is not None and b is not None and a != b for a, b in zip(spec.shape, shape))):
            return _fmt(spec.shape), received, ""
        for axis, value in (spec.axes or {}).items():
            if value is not None and -len(shape) <= axis < len(shape) and shape[axis] not in (value, None):
                n = max(-a if a < 0 else a + 1 for a in spec.axes)
                dims = ["?"] * n
                for a, v in spec.axes.items():
                    dims[a] = str(v)
                exp = "(..., " + ", ".join(dims) + ")" if all(a < 0 for a in spec.axes) else "(" + ", ".join(dims) + ", ...)"
                where = "last dimension" if axis == -1 or axis == len(shape) - 1 else f"dimension {axis}"
                return exp, received, f" ({where}: expected {value}, got {shape[axis]})"
        for attr, ok in (("ndim", lambda n: len(shape) == n), ("min_ndim", lambda n: len(shape) >= n),
                         ("max_ndim", lambda n: len(shape) <= n)):
            n = getattr(spec, attr, None)
            if n is not None and not ok(n):
                return f"rank {'>=' if attr == 'min_ndim' else '<=' if attr == 'max_ndim' else ''}{n}", received, ""
    return None, None, ""


def _fmt(shape: Any) -> str:
    dims = ["None" if d is None else str(int(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
