"""Tracing models that carry no layer graph (subclassed models, custom layers).

Strategy 1, *symbolic*: call ``model.call`` on ``keras.Input`` tensors. Every
layer call and ``keras.ops`` op becomes a Keras node, and ``keras.Model(inputs,
outputs)`` over them is a functional *twin* sharing the model's layer objects
(same weights, same outputs), which the live reader then walks exactly.

Strategy 2, *eager* (when Python control flow on values or raw ``tf.*`` ops
defeat symbolic tensors): run ``model.call`` once on random inputs with a hook
around ``Layer.__call__`` recording each top-level layer call and the tensors
it consumed/produced; TensorFlow ops run between layers are recorded through
TF's op callbacks and appear as ``op`` nodes. Such a graph shows what one call
did, so it is marked traced (``meta["traced"]``, node attr ``traced``).

When the user's ``call`` fails, the result still holds the graph up to the
failure, with the failing call as a node marked ``failed=True`` / ``error``,
and a :class:`TraceFailure` naming the layer (by its attribute on the model),
the expected vs received shape and the user's source line.
"""
from __future__ import annotations

import contextlib
import linecache
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import InspectorError
from .graph import ModelGraph, node_id
from .live import (_struct_list as _flat, add_failed_call, base_attrs, costs, dtype_name as _dtype, finish,
                   functional_graph, node_kind, serialize, snake as _snake, tensor_ref, tensors as _tensors,
                   unique_name as _unique)
from .specs import (InputSpec, Template, _first_line, _library_file, _rel, call_template, input_mismatch,
                    model_input_specs)

EAGER_BATCH = 2
UNKNOWN_DIM = 8  # stand-in for a None non-batch dimension when running eagerly


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


class _Recorder:
    def __init__(self) -> None:
        self.depth = 0
        self.events: list[tuple[str, Any]] = []  # ("layer", _Call) | ("op", (type, inputs, outputs))
        self.failure: _Call | None = None


# --------------------------------------------------------------------------- public entry
def trace(model: Any, input_specs: Any = None, *, _fallback: bool = True) -> TraceResult:
    """Trace ``model`` (any Keras layer/model) into a graph; see the module docstring.

    ``input_specs``: a list of :class:`InputSpec` or ``"name=shape[:dtype]"``
    strings, a ``{name: shape}`` dict, one shape tuple, or None to use the
    shapes the model was built with. Shapes exclude the batch dimension.
    Raises :class:`InspectorError` when no input shapes can be found.
    """
    from .loading import import_keras

    import_keras()
    specs, kind = model_input_specs(model, input_specs)
    template = call_template(model, specs, kind)
    names = _attr_names(model)
    sym = _symbolic(model, specs, template, names)
    if sym.error is None or not _fallback:
        return sym
    eager = _eager(model, specs, template, names, sym)
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
            finally:
                rec.depth -= 1
        where = _caller()
        rec.depth += 1
        try:
            out = original(self, *args, **kwargs)
        except Exception as e:
            if rec.failure is None:
                rec.failure = _Call(self, args, kwargs, None, where, e)
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


@contextlib.contextmanager
def _tf_ops(rec: _Recorder) -> Iterator[None]:
    """Record TensorFlow ops executed eagerly between layer calls (depth 0)."""
    try:
        from tensorflow.python.framework import op_callbacks
    except Exception:  # another backend: ops between layers show up as untracked inputs
        yield
        return

    def callback(op_type: str, inputs: Any, attrs: Any, outputs: Any, op_name: Any = None, graph: Any = None) -> None:
        if rec.depth == 0 and graph is None:
            rec.events.append(("op", (op_type, list(inputs or ()), list(outputs or ()))))

    op_callbacks.add_op_callback(callback)
    try:
        yield
    finally:
        op_callbacks.remove_op_callback(callback)


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


# --------------------------------------------------------------------------- eager
def _eager(model: Any, specs: list[InputSpec], template: Template, names: dict, sym: TraceResult) -> TraceResult:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    values = []
    for s in specs:
        shape = (EAGER_BATCH,) + tuple(UNKNOWN_DIM if d is None else d for d in s.shape)
        v = rng.standard_normal(shape) if "float" in s.dtype else np.zeros(shape)
        values.append(keras.ops.convert_to_tensor(v.astype(s.dtype)))
    args, kwargs, _ = template(values)
    rec, out, err = _Recorder(), None, None
    with _hooked(rec), _tf_ops(rec):
        try:
            out = model.call(*args, **kwargs)
        except Exception as e:
            err = e
    g = ModelGraph(name=model.name)
    where: dict[int, tuple[str, int]] = {}
    keep: list = list(values)  # tensors stay referenced, so their ids stay unique
    for s, v in zip(specs, values):
        _add_input(g, s)
        where[id(v)] = (s.name, 0)
    objects: dict[str, Any] = {}
    counts: dict[int, int] = {}
    for kind, ev in rec.events:
        if kind == "layer":
            counts[id(ev.layer)] = counts.get(id(ev.layer), 0) + 1
    failed = rec.failure if rec.failure is not None and rec.failure.exc is err else None
    if failed is not None:
        counts[id(failed.layer)] = counts.get(id(failed.layer), 0) + 1
    seen: dict[int, int] = {}
    used_names = set(g.nx.nodes)
    for kind, ev in rec.events + ([("failed", failed)] if failed else []):
        if kind == "op":
            op_type, ins, outs = ev
            nid = _unique(_snake(op_type), used_names)
            g.add_node(nid, name=nid, class_name=op_type, module="tensorflow", registered_name=None, kind="op",
                       call_index=0, num_calls=1, config={"name": nid}, activation=None, trainable=True,
                       input_shapes=[], output_shapes=[_batchless(t.shape) for t in outs],
                       output_dtypes=[_dtype(t) for t in outs])
            _connect(g, nid, [t for t in ins if id(t) in where], where, used_names, keep)
        else:
            layer = ev.layer
            k = seen[id(layer)] = seen.get(id(layer), -1) + 1
            nid = node_id(layer.name, k, counts[id(layer)])
            e = serialize(layer)
            attrs = base_attrs(layer, e, node_kind(layer, e), True)
            kwargs = {a: v for a, v in ev.kwargs.items() if not _tensors(v)}
            attrs.update(call_index=k, num_calls=counts[id(layer)], call_kwargs=kwargs or None,
                         output_shapes=[_batchless(t.shape) for t in _tensors(ev.out)],
                         output_dtypes=[_dtype(t) for t in _tensors(ev.out)])
            g.add_node(nid, **attrs)
            used_names.add(nid)
            objects[nid] = layer
            _connect(g, nid, _tensors((ev.args, ev.kwargs)), where, used_names, keep)
            outs = _tensors(ev.out)
        keep.extend(outs)
        for i, t in enumerate(outs):
            where[id(t)] = (nid, i)
    g.inputs = [s.name for s in specs]
    g.outputs = [where[id(t)] for t in _tensors(out) if id(t) in where] if err is None else []
    failure = None
    if err is not None:
        refs = None
        if failed is not None:
            fid = node_id(failed.layer.name, counts[id(failed.layer)] - 1, counts[id(failed.layer)])
            g.nx.nodes[fid].update(output_shapes=[], output_dtypes=[])
            refs = []
        failure = _failure(err, failed, names, g, refs)
    finish(g, objects, 0, True)
    reason = (sym.error.exception.split(". ")[0] if sym.error else "no functional twin")[:160]
    _finish_traced(g, model, names, "eager", failure, note=f"symbolic tracing failed ({reason})")
    return TraceResult(g, None, failure, "eager", sum(1 for k, _ in rec.events if k == "layer"))


def _connect(g: ModelGraph, nid: str, tensors: list, where: dict, used: set, keep: list) -> None:
    for j, t in enumerate(tensors):
        if id(t) not in where:  # produced by code we could not see (numpy, another backend)
            src = _unique("untracked", used)
            g.add_node(src, name=src, class_name="Untracked", module=None, registered_name=None, kind="op",
                       call_index=0, num_calls=1, config={"name": src}, activation=None, trainable=True,
                       input_shapes=[], output_shapes=[_batchless(t.shape)], output_dtypes=[_dtype(t)])
            keep.append(t)
            where[id(t)] = (src, 0)
        src, ti = where[id(t)]
        g.add_edge(src, nid, arg_index=j, tensor_index=ti, shape=_batchless(t.shape), dtype=_dtype(t))
    g.nx.nodes[nid]["input_shapes"] = [_batchless(t.shape) for t in tensors]


# --------------------------------------------------------------------------- failures
def _failure(err: BaseException | None, failed: _Call | None, names: dict, g: ModelGraph,
             refs: list | None) -> TraceFailure:
    exc = f"{type(err).__name__}: {_first_line(err)}" if err is not None else "no functional graph"
    if failed is None:
        where = _user_frame(err)
        loc = f" at {_rel(where[0])}:{where[1]}{_code(where)}" if where else ""
        return TraceFailure(f"the model's call failed{loc}: {exc}", exc, file=where and _rel(where[0]),
                            line=where and where[1], code=where and _code_text(where))
    layer = failed.layer
    attr = names.get(id(layer), (None,))[0]
    cls = type(layer).__name__
    tensors = _tensors((failed.args, failed.kwargs))
    expected, received, detail = input_mismatch(layer, tensors)
    nid = add_failed_call(g, layer, refs) if refs is not None and failed.layer.name not in g.inputs else None
    calls = g.nx.nodes[nid]["num_calls"] if nid else 1
    who = f"self.{attr} ({cls} {layer.name!r})" if attr else f"layer {layer.name!r} ({cls})"
    who = f"call {calls} of {who}" if calls > 1 else who
    loc = f" at {_rel(failed.where[0])}:{failed.where[1]}{_code(failed.where)}" if failed.where else ""
    what = f"it expects input shape {expected} but received {received}{detail}" if expected else exc
    msg = f"{who} failed{loc}: {what}"
    if nid:
        g.nx.nodes[nid]["error"] = msg
    return TraceFailure(msg, exc, layer=layer.name, attribute=attr, class_name=cls, node=nid,
                        expected=expected, received=received, file=failed.where and _rel(failed.where[0]),
                        line=failed.where and failed.where[1], code=failed.where and _code_text(failed.where))


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


# --------------------------------------------------------------------------- small helpers
def _batchless(shape: Any) -> tuple | None:
    """An eager tensor's shape with the batch dimension of our sample inputs shown as None."""
    if shape is None:
        return None
    dims = tuple(None if d is None else int(d) for d in shape)
    return (None,) + dims[1:] if dims and dims[0] == EAGER_BATCH else dims
