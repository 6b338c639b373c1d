"""The tracer's fallback when no functional twin exists: one eager call of
``model.call`` on random inputs, with hooks on every layer call and on the
TensorFlow ops run between layers. Keras is imported lazily.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from inspector.graph import ModelGraph, node_id
from inspector.readers.live.explain import TraceResult, _add_input, _failure, _finish_traced
from inspector.readers.live.nodes import base_attrs, node_kind, serialize
from inspector.readers.live.nodes import dtype_name as _dtype
from inspector.readers.live.nodes import snake as _snake
from inspector.readers.live.nodes import tensors as _tensors
from inspector.readers.live.nodes import unique_name as _unique
from inspector.readers.live.recorder import _Call, _hooked, _Recorder
from inspector.readers.live.specs import InputSpec, Template
from inspector.readers.live.walk import finish

# --------------------------------------------------------------------------- eager tracing
# inspector.readers.live.trace's fallback when no functional twin exists: one eager call with hooks.
EAGER_BATCH = 2
UNKNOWN_DIM = 8  # stand-in for a None non-batch dimension when running eagerly


def eager_trace(model: Any, specs: list[InputSpec], template: Template, names: dict,
                sym: TraceResult, expand: Callable | None = None) -> TraceResult:
    """The graph of one eager call of ``model.call`` on random inputs (see :mod:`inspector.readers.live.trace`)."""
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
    finish(g, objects, 0, True, expand)
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
