"""Graphs to cut out of a live model, and the fallback when there is none.

* :func:`functional_of`: a Functional model as it is, a Sequential's functional
  twin, a subclassed model's traced twin (``inspector.trace``) or, when its
  ``call`` fails, :func:`partial_twin`: the functional graph of the calls made
  before the failure, so layers computed before it can still be cut out.
* :class:`HookExtractor`: layer outputs captured during an eager forward pass,
  for models no symbolic tensor can trace.
* :func:`eager_trace`: :mod:`inspector.trace`'s fallback strategy, the graph of one eager
  call recorded through layer-call hooks and TensorFlow op callbacks.

Keras is imported lazily: importing this module does not import TensorFlow.
"""
from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import InspectorError
from .graph import ModelGraph, node_id
from .live import base_attrs, dtype_name as _dtype, finish, node_kind, serialize, snake as _snake
from .live import tensors as _tensors, unique_name as _unique

if TYPE_CHECKING:
    from .specs import InputSpec, Template
    from .trace import TraceResult, _Call, _Recorder


def functional_of(model: Any, input_specs: Any = None) -> tuple[Any | None, str | None, Any]:
    """The functional graph to cut: ``(functional model or None, why not, trace failure or None)``.

    Functional models are used as they are, a Sequential through its functional
    twin; a subclassed model through ``inspector.trace.trace(...).twin`` (a
    functional model sharing its layer objects). When the model's ``call``
    fails, the graph is the twin *up to the failing call* (see
    :func:`partial_twin`) and the third item is the trace result explaining the
    failure, so layers computed before it can still be cut out. ``None`` means
    only an eager forward pass is possible.
    """
    from keras.src.models.functional import Functional

    keras = __import__("keras")
    if isinstance(model, keras.Sequential):
        fn = getattr(model, "_functional", None)
        if fn is None:
            return None, "the Sequential model is not built (give it an Input or call it once)", None
        return fn, None, None
    if isinstance(model, Functional):
        return model, None, None
    from . import trace as trace_mod

    try:
        result = trace_mod.trace(model, input_specs=input_specs or None)
    except InspectorError as e:
        return None, e.message, None
    if result.twin is not None:
        return result.twin, None, None
    if result.error is not None:
        return partial_twin(model, input_specs), result.error.message, result
    return None, "tracing gave no symbolic graph", None


def partial_twin(model: Any, input_specs: Any = None) -> Any | None:
    """A functional model of every top-level layer call ``model.call`` made before it failed.

    ``call`` runs on ``keras.Input`` tensors (as in :mod:`inspector.trace`); the
    outputs of the calls that succeeded are connected to the inputs, so they
    form a functional model sharing the model's layers. None when no call
    succeeded or the pieces do not form a graph.
    """
    import keras

    from .specs import call_template, model_input_specs
    from .trace import _hooked, _Recorder

    specs, kind = model_input_specs(model, input_specs)
    inputs = [keras.Input(batch_shape=(None, *s.shape), dtype=s.dtype, name=s.name) for s in specs]
    args, kwargs, struct = call_template(model, specs, kind)(inputs)
    rec = _Recorder()
    with _hooked(rec):
        try:
            model.call(*args, **kwargs)
        except Exception:  # expected: this is the failure being explained
            pass
    outs: dict[int, Any] = {}
    for what, call in rec.events:
        if what == "layer":
            for t in keras.tree.flatten(call.out):
                if isinstance(t, keras.KerasTensor):
                    outs.setdefault(id(t), t)
    if not outs:
        return None
    try:
        return keras.Model(struct, list(outs.values()), name=model.name)
    except Exception:  # not a graph after all (tensors from outside the inputs): no partial cut
        return None


class HookExtractor:
    """Layer outputs of a model that has no symbolic graph, captured in a forward pass.

    The model runs normally (eagerly); each requested layer's ``call`` is wrapped
    for the duration of the pass to record its outputs. ``NAME:k`` picks the k-th
    call of a layer in that pass, a bare name its last call.
    """

    def __init__(self, model: Any, refs: Sequence[Any], path: str | None = None, why: str = ""):
        self.model, self.path, self.why = model, path, why
        self.keys: list[str] = []
        self._targets: list[tuple[Any, int | None]] = []
        by_name = {}
        for layer in model._flatten_layers(include_self=False, recursive=True):
            by_name.setdefault(layer.name, layer)
        for ref in refs:
            s = str(ref).strip()
            call: int | None = None
            if s not in by_name and re.fullmatch(r"-?\d+", s):
                try:
                    s = model.layers[int(s)].name
                except IndexError:
                    raise InspectorError(f"layer index {s} is out of range: the model has "
                                         f"{len(model.layers)} layers", path) from None
            if s not in by_name and re.fullmatch(r".+:\d+", s) and s.rpartition(":")[0] in by_name:
                s, call = s.rpartition(":")[0], int(s.rpartition(":")[2])
            if s not in by_name:
                import difflib

                close = difflib.get_close_matches(s, list(by_name), n=3)
                raise InspectorError(f"no layer named {s!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
                                     path)
            self._targets.append((by_name[s], call))
            self.keys.append(s if call is None else f"{s}:{call}")

    @property
    def input_specs(self) -> list[tuple[str, tuple, str]]:
        """(name, shape incl. batch, dtype) the model was built with, when Keras recorded it."""
        shapes = (getattr(self.model, "_build_shapes_dict", None) or {})
        shape = next(iter(shapes.values()), None) if shapes else None
        if isinstance(shape, dict):
            return [(k, (None, *tuple(v)[1:]), "float32") for k, v in shape.items()]
        if isinstance(shape, (tuple, list)) and shape and all(isinstance(d, (int, type(None))) for d in shape):
            return [("input", (None, *tuple(shape)[1:]), "float32")]
        return []

    def __call__(self, x: Any) -> Any:
        captured: dict[int, list] = {id(layer): [] for layer, _ in self._targets}
        patched = []
        for layer, _ in self._targets:
            if id(layer) in {id(p) for p in patched}:
                continue
            original = layer.call

            def hook(*a: Any, _orig: Any = original, _bucket: list = captured[id(layer)], **k: Any) -> Any:
                out = _orig(*a, **k)
                _bucket.append(out)
                return out

            object.__setattr__(layer, "call", hook)
            patched.append(layer)
        try:
            self.model(x, training=False)
        finally:
            for layer in patched:
                object.__delattr__(layer, "call")
        results = {}
        for key, (layer, call) in zip(self.keys, self._targets):
            got = captured[id(layer)]
            if not got or (call is not None and call >= len(got)):
                raise InspectorError(f"layer {layer.name!r} was called {len(got)} times in the forward pass; "
                                     f"no output for {key!r}", self.path)
            results[key] = got[call if call is not None else -1]
        return results[self.keys[0]] if len(self.keys) == 1 else results

    predict_on_batch = __call__

# --------------------------------------------------------------------------- eager tracing
# inspector.trace's fallback when no functional twin exists: one eager call with hooks.
EAGER_BATCH = 2
UNKNOWN_DIM = 8  # stand-in for a None non-batch dimension when running eagerly


def eager_trace(model: Any, specs: list[InputSpec], template: Template, names: dict,
                sym: TraceResult) -> TraceResult:
    """The graph of one eager call of ``model.call`` on random inputs (see :mod:`inspector.trace`)."""
    import keras
    import numpy as np

    from .trace import TraceResult, _add_input, _failure, _finish_traced, _hooked, _Recorder

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
    events = _data_flow(rec.events, values, out, failed)
    for kind, ev in events + ([("failed", failed)] if failed else []):
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
    reason = (sym.error.exception.split(". ")[0] if sym.error else "no functional twin")[:160].rstrip(".")
    if sym.error is not None and sym.error.file:  # which line of the user's code defeats symbolic tensors
        reason += f" at {sym.error.file}:{sym.error.line}"
    _finish_traced(g, model, names, "eager", failure, note=f"symbolic tracing failed ({reason})")
    return TraceResult(g, None, failure, "eager", sum(1 for k, _ in rec.events if k == "layer"))


def _data_flow(events: list, values: list, out: Any, failed: _Call | None) -> list:
    """The events minus TF ops on constants only that nothing downstream reads.

    Keras's own op implementations run helper ops (``greater``/``range``/``all`` on
    literals) between layers; they are not the model's data flow and would be dangling nodes.
    """
    live = {id(v) for v in values}
    for kind, ev in events:
        if kind == "layer" or any(id(t) in live for t in ev[1]):
            live.update(id(t) for t in _tensors(ev.out if kind == "layer" else ev[2]))
    used = {id(t) for t in _tensors(out)} | ({id(t) for t in _tensors((failed.args, failed.kwargs))} if failed else set())
    keep: list = []
    for kind, ev in reversed(events):
        if kind == "layer":
            used.update(id(t) for t in _tensors((ev.args, ev.kwargs)))
        elif any(id(t) in live for t in ev[1]) or any(id(t) in used for t in ev[2]):
            used.update(id(t) for t in ev[1])
        else:
            continue
        keep.append((kind, ev))
    return keep[::-1]


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


def _batchless(shape: Any) -> tuple | None:
    """An eager tensor's shape with the batch dimension of our sample inputs shown as None."""
    if shape is None:
        return None
    dims = tuple(None if d is None else int(d) for d in shape)
    return (None,) + dims[1:] if dims and dims[0] == EAGER_BATCH else dims
