"""Tracing models that carry no layer graph (subclassed models, custom layers).

Strategy 1, *symbolic*: call ``model.call`` on ``keras.Input`` tensors. Every
layer call and ``keras.ops`` op becomes a Keras node, and ``keras.Model(inputs,
outputs)`` over them is a functional *twin* sharing the model's layer objects
(same weights, same outputs), which the live reader then walks exactly.

Strategy 2, *eager* (when Python control flow on values or raw ``tf.*`` ops
defeat symbolic tensors): run ``model.call`` once on random inputs with a hook
around ``Layer.__call__`` recording each top-level layer call and the tensors
it consumed/produced; TensorFlow ops run between layers are recorded through
TF's op callbacks and appear as ``op`` nodes (:func:`inspector.twins.eager_trace`).
Such a graph shows what one call did, so it is marked traced (``meta["traced"]``,
node attr ``traced``).

When the user's ``call`` fails, the result still holds the graph up to the
failure, with the failing call as a node marked ``failed=True`` / ``error``,
and a :class:`TraceFailure` naming the layer (by its attribute on the model),
the expected vs received shape and the user's source line.
"""
from __future__ import annotations

import contextlib
import linecache
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import InspectorError
from .graph import ModelGraph
from .live import _struct_list as _flat, add_failed_call, costs, functional_graph, tensor_ref, tensors as _tensors
from .specs import (InputSpec, Template, _first_line, _library_file, _rel, call_template, input_mismatch,
                    model_input_specs)

@dataclass
class TraceFailure:
    """Why a model's ``call`` failed, worded for the user (``str()`` is the one-line message)."""

    message: str
    exception: str
    layer: str | None = None
    attribute: str | None = None
    class_name: str | None = None
    node: str | None = None
    expected: str | None = None
    received: str | None = None
    file: str | None = None
    line: int | None = None
    code: str | None = None
    inner: str | None = None  # the nested layer the failure came from (``self.block.dense``), if deeper
    inner_file: str | None = None
    inner_line: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class TraceResult:
    """``graph`` (meta traced), ``twin`` (functional keras.Model or None), ``error``, ``mode``."""

    graph: ModelGraph
    twin: Any | None
    error: TraceFailure | None
    mode: str
    progress: int = field(default=0, repr=False)


class TraceFailed(InspectorError):
    """A model's ``call`` failed while tracing; ``.result`` holds the partial graph."""

    def __init__(self, result: TraceResult, path: str | None = None):
        super().__init__(result.error.message if result.error else "tracing failed", path)
        self.result = result


@dataclass
class _Call:
    layer: Any
    args: tuple
    kwargs: dict
    out: Any
    where: tuple[str, int] | None
    exc: BaseException | None = None
    inner: list = field(default_factory=list)  # the recorder's nested failures during this call


class _Recorder:
    def __init__(self) -> None:
        self.depth = 0
        self.events: list[tuple[str, Any]] = []  # ("layer", _Call) | ("op", (type, inputs, outputs))
        self.failure: _Call | None = None
        self.inner: list[tuple[int, _Call]] = []  # (depth, call) of nested calls that raised, deepest first


# --------------------------------------------------------------------------- public entry
def trace(model: Any, input_specs: Any = None, *, _fallback: bool = True) -> TraceResult:
    """Trace ``model`` (any Keras layer/model) into a graph; see the module docstring.

    ``input_specs``: a list of :class:`InputSpec` or ``"name=shape[:dtype]"``
    strings, a ``{name: shape}`` dict, one shape tuple, or None to use the
    shapes the model was built with. Shapes exclude the batch dimension.
    Raises :class:`InspectorError` when no input shapes can be found.
    """
    from .loading import import_keras
    from .twins import eager_trace

    import_keras()
    specs, kind = model_input_specs(model, input_specs)
    template = call_template(model, specs, kind)
    names = _attr_names(model)
    with warnings.catch_warnings():  # Keras's "unbuilt state" advice would bury our one error line
        warnings.filterwarnings("ignore", category=UserWarning, module="keras")
        sym = _symbolic(model, specs, template, names)
        if sym.error is None or not _fallback:
            return sym
        eager = eager_trace(model, specs, template, names, sym)
    if eager.error is not None and (eager.error.exception, eager.error.line) == (sym.error.exception, sym.error.line):
        return sym  # the same failure both ways: the user's code, not a limit of symbolic tensors
    if eager.error is None or eager.progress > sym.progress or (
            sym.error is not None and sym.error.node is None and eager.progress >= sym.progress):
        return eager  # a symbolic failure without a layer to blame is a limit of symbolic tensors
    return sym


def _attr_names(model: Any) -> dict[int, tuple[str, Any]]:
    """id(layer) -> (attribute path on the model, layer): how the user's code names its layers."""
    from keras import layers

    out: dict[int, tuple[str, Any]] = {}
    for k, v in list(vars(model).items()):
        if k.startswith("_"):
            continue
        items = ([(k, v)] if isinstance(v, layers.Layer) else
                 [(f"{k}[{i}]", x) for i, x in enumerate(v)] if isinstance(v, (list, tuple)) else
                 [(f"{k}[{kk!r}]", x) for kk, x in v.items()] if isinstance(v, dict) else [])
        for name, x in items:
            if isinstance(x, layers.Layer):
                out.setdefault(id(x), (name, x))
    return out


# --------------------------------------------------------------------------- hooks
@contextlib.contextmanager
def _hooked(rec: _Recorder) -> Iterator[None]:
    """Wrap ``Layer.__call__``: record top-level calls (depth 0 of the traced ``call``) and failures."""
    from keras.src.layers.layer import Layer

    original = Layer.__call__

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.depth > 0:
            rec.depth += 1
            try:
                return original(self, *args, **kwargs)
            except Exception as e:  # kept so a failure deep in a nested layer names that layer
                rec.inner.append((rec.depth - 1, _Call(self, args, kwargs, None, _caller(), e)))
                raise
            finally:
                rec.depth -= 1
        where = _caller()
        rec.depth += 1
        rec.inner = []
        try:
            out = original(self, *args, **kwargs)
        except Exception as e:
            if rec.failure is None:
                rec.failure = _Call(self, args, kwargs, None, where, e, list(rec.inner))
            raise
        finally:
            rec.depth -= 1
        rec.events.append(("layer", _Call(self, args, kwargs, out, where)))
        return out

    Layer.__call__ = __call__
    try:
        yield
    finally:
        Layer.__call__ = original


def _caller() -> tuple[str, int] | None:
    f = sys._getframe(2)
    while f is not None and _library_file(f.f_code.co_filename):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else None


# --------------------------------------------------------------------------- symbolic
def _symbolic(model: Any, specs: list[InputSpec], template: Template, names: dict) -> TraceResult:
    import keras

    inputs = [keras.Input(batch_shape=(None,) + tuple(s.shape), dtype=s.dtype, name=s.name) for s in specs]
    args, kwargs, struct = template(inputs)
    rec, out, err, twin = _Recorder(), None, None, None
    with _hooked(rec):
        try:
            out = model.call(*args, **kwargs)
        except Exception as e:
            err = e
    if err is None:
        try:
            twin = keras.Model(struct, out, name=model.name)
        except Exception as e:  # outputs that are not tensors, clashing names...: not a functional graph
            err = e
    progress = sum(1 for k, _ in rec.events if k == "layer")
    if twin is not None:
        g, _ = functional_graph(twin)
        _finish_traced(g, model, names, "symbolic", None)
        return TraceResult(g, twin, None, "symbolic", progress)
    failed = rec.failure if rec.failure is not None and rec.failure.exc is err else None
    produced = [t for k, c in rec.events for t in _flat(c.out) if isinstance(t, keras.KerasTensor)]
    wanted = produced + ([t for t in _flat((failed.args, failed.kwargs)) if isinstance(t, keras.KerasTensor)]
                         if failed else [])
    seen: set[int] = {id(t) for t in inputs}
    outs = [t for t in wanted if hasattr(t, "_keras_history") and not (id(t) in seen or seen.add(id(t)))]
    try:
        partial = keras.Model(struct, outs or list(inputs), name=model.name)
        g, ids = functional_graph(partial)
    except Exception:  # the pieces do not even form a graph: show the inputs alone
        g, ids = ModelGraph(name=model.name), {}
        for s in specs:
            _add_input(g, s)
    g.outputs = []
    refs = None
    if failed is not None:
        try:
            refs = [(*tensor_ref(t, ids), t.shape, t.dtype) for t in _flat((failed.args, failed.kwargs))
                    if isinstance(t, keras.KerasTensor)]
        except (KeyError, AttributeError, IndexError):
            refs = []
    failure = _failure(err, failed, names, g, refs)
    _finish_traced(g, model, names, "symbolic", failure)
    return TraceResult(g, None, failure, "symbolic", progress)


# --------------------------------------------------------------------------- failures
def _failure(err: BaseException | None, failed: _Call | None, names: dict, g: ModelGraph,
             refs: list | None) -> TraceFailure:
    exc = f"{type(err).__name__}: {_first_line(err)}" if err is not None else "no functional graph"
    if failed is None:
        where = _user_frame(err)
        return TraceFailure(f"the model's call failed{_at(where)}: {exc}", exc, file=where and _rel(where[0]),
                            line=where and where[1], code=where and _code_text(where))
    layer = failed.layer
    attr = names.get(id(layer), (None,))[0]
    cls = type(layer).__name__
    culprit, path = _culprit(failed, attr, err)
    expected, received, detail = input_mismatch(culprit.layer, _tensors((culprit.args, culprit.kwargs)))
    nid = add_failed_call(g, layer, refs) if refs is not None and failed.layer.name not in g.inputs else None
    calls = g.nx.nodes[nid]["num_calls"] if nid else 1
    who = f"self.{attr} ({cls} {layer.name!r})" if attr else f"layer {layer.name!r} ({cls})"
    who = f"call {calls} of {who}" if calls > 1 else who
    what = f"it expects input shape {expected} but received {received}{detail}" if expected else exc
    raised = _user_frame(err)
    if not expected and raised and raised not in (culprit.where, failed.where):
        what += f" (raised{_at(raised)})"  # in the Python code of a (nested) layer's call
    inner = None
    if culprit is not failed:
        c = culprit.layer
        inner = path or c.name
        what = (f"inside it, {path or 'layer ' + repr(c.name)} ({type(c).__name__}"
                f"{' ' + repr(c.name) if path else ''}){_at(culprit.where)}: {what}")
    msg = f"{who} failed{_at(failed.where)}: {what}"
    if nid:
        g.nx.nodes[nid]["error"] = msg
    cw = culprit.where if inner else None
    return TraceFailure(msg, exc, layer=layer.name, attribute=attr, class_name=cls, node=nid,
                        expected=expected, received=received, file=failed.where and _rel(failed.where[0]),
                        line=failed.where and failed.where[1], code=failed.where and _code_text(failed.where),
                        inner=inner, inner_file=cw and _rel(cw[0]), inner_line=cw and cw[1])


def _culprit(failed: _Call, attr: str | None, err: BaseException | None) -> tuple[_Call, str | None]:
    """The deepest nested layer call the failure propagated from, and its path (``self.a.b``) on the model.

    Keras re-raises a nested failure with the innermost message, so the chain is the run of
    nested failures (depth 1, 2, ...) carrying the same message as the top-level one.
    """
    msg = _first_line(err) if err is not None else None
    culprit, path = failed, f"self.{attr}" if attr else None
    chain: list[_Call] = []
    for depth, call in reversed(failed.inner):
        if depth != len(chain) + 1 or _first_line(call.exc) != msg:
            break
        chain.append(call)
    for call in chain:
        sub = _attr_names(culprit.layer).get(id(call.layer), (None,))[0]
        path = f"{path}.{sub}" if path and sub else None
        culprit = call
    return culprit, path


def _at(where: tuple[str, int] | None) -> str:
    return f" at {_rel(where[0])}:{where[1]}{_code(where)}" if where else ""


def _user_frame(err: BaseException | None) -> tuple[str, int] | None:
    tb, found = (err.__traceback__ if err is not None else None), None
    while tb is not None:
        if not _library_file(tb.tb_frame.f_code.co_filename):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _code_text(where: tuple[str, int]) -> str | None:
    return linecache.getline(where[0], where[1]).strip() or None


def _code(where: tuple[str, int]) -> str:
    text = _code_text(where)
    return f" `{text}`" if text else ""


# --------------------------------------------------------------------------- graph finishing
def _finish_traced(g: ModelGraph, model: Any, names: dict, mode: str, failure: TraceFailure | None,
                   note: str | None = None) -> None:
    import keras

    by_name = {layer.name: attr for attr, layer in names.values()}
    for _, a in g.nx.nodes(data=True):
        a["traced"] = True
        if a.get("name") in by_name:
            a["attribute"] = by_name[a["name"]]
    costs(g)
    g.name, g.class_name = model.name, type(model).__name__
    g.meta.update(source="<live model>", format="traced", keras_runtime=keras.__version__, traced=True,
                  trace_mode=mode)
    hints = [f"traced eagerly, {note}: the graph shows one call on random inputs" if mode == "eager" else None,
             "partial graph: the model's call failed" + (f" at {failure.node}" if failure.node else "")
             + " (see the error)"
             if failure else None]
    if any(hints):
        g.meta["hint"] = "; ".join(h for h in hints if h)
    if failure:
        g.meta["trace_error"] = failure.message


def _add_input(g: ModelGraph, s: InputSpec) -> None:
    shape = (None,) + tuple(s.shape)
    g.add_node(s.name, name=s.name, class_name="InputLayer", module="keras.layers", registered_name=None,
               kind="input", call_index=0, num_calls=1, activation=None, trainable=True,
               config={"batch_shape": list(shape), "dtype": s.dtype, "name": s.name}, input_shapes=[],
               output_shapes=[shape], output_dtypes=[s.dtype], weights=[], params_trainable=0,
               params_non_trainable=0)
