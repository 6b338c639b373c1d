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
    values = _sample_inputs(specs)
    args, kwargs, _ = template(values)
    rec, out, err = _Recorder(), None, None
    with _hooked(rec), _tf_ops(rec):
        try:
            out = model.call(*args, **kwargs)
        except Exception as e:
            err = e
    failed = rec.failure if rec.failure is not None and rec.failure.exc is err else None
    shape = _Shapes(_other_batch_shapes(model, template, values, rec.events))
    b = _EagerGraph(model.name, specs, values, rec.events, failed, shape)
    for kind, ev in _data_flow(rec.events, values, out, failed) + ([("failed", failed)] if failed else []):
        if kind == "op":
            b.add_op(*ev)
        else:
            b.add_call(ev)
    g = b.g
    g.inputs = [s.name for s in specs]
    g.outputs = [b.where[id(t)] for t in _tensors(out) if id(t) in b.where] if err is None else []
    failure = None
    if err is not None:
        if failed is not None:   # the failing call produced nothing
            n = b.counts[id(failed.layer)]
            g.nx.nodes[node_id(failed.layer.name, n - 1, n)].update(output_shapes=[], output_dtypes=[])
        failure = _failure(err, failed, names, g, [] if failed is not None else None)
    finish(g, b.objects, 0, True, expand)
    _finish_traced(g, model, names, "eager", failure, note=f"symbolic tracing failed ({_why_not_symbolic(sym)})")
    return TraceResult(g, None, failure, "eager", sum(1 for k, _ in rec.events if k == "layer"))


def _sample_inputs(specs: list[InputSpec]) -> list:
    """Random tensors for ``specs``: a batch of EAGER_BATCH, unknown dimensions UNKNOWN_DIM."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    values = []
    for s in specs:
        shape = (EAGER_BATCH,) + tuple(UNKNOWN_DIM if d is None else d for d in s.shape)
        v = rng.standard_normal(shape) if "float" in s.dtype else np.zeros(shape)
        values.append(keras.ops.convert_to_tensor(v.astype(s.dtype)))
    return values


def _other_batch_shapes(model: Any, template: Template, values: list, events: list) -> dict[int, tuple]:
    """``id(tensor of the first run) -> its shape`` in a second run on one more sample.

    One run cannot tell the batch dimension from a dimension that happens to be as
    long: ``tf.stack([mean, max])`` and ``tf.shape(x)`` are ``(2,)`` like a batch of 2.
    The dimensions that change with the batch size are the batch's; the rest are real
    sizes. The second run's inputs are the first run's plus a copy of row 0, so value-
    dependent control flow mostly takes the same path; when it does not (other layer
    calls or ops), this gives ``{}`` and :class:`_Shapes` falls back to the size-based guess.
    """
    import keras

    more = [keras.ops.concatenate([v, v[:1]], axis=0) for v in values]
    args, kwargs, _ = template(more)
    rec = _Recorder()
    with _hooked(rec), _tf_ops(rec):
        try:
            model.call(*args, **kwargs)
        except Exception:  # a failing model fails again: the calls before the failure still compare
            pass
    if len(rec.events) != len(events):
        return {}
    pairs = list(zip(values, more))
    for (kind, ev), (kind2, ev2) in zip(events, rec.events):
        if kind != kind2 or (ev.layer is not ev2.layer if kind == "layer" else ev[0] != ev2[0]):
            return {}
        outs, outs2 = (_tensors(ev.out), _tensors(ev2.out)) if kind == "layer" else (ev[2], ev2[2])
        if len(outs) != len(outs2):
            return {}
        pairs.extend(zip(outs, outs2))
    return {id(a): _dims(b.shape) for a, b in pairs if _dims(b.shape) is not None}


class _Shapes:
    """A first-run tensor's shape with its batch dimensions as None (see :func:`_other_batch_shapes`)."""

    def __init__(self, other: dict[int, tuple]):
        self.other = other

    def __call__(self, t: Any) -> tuple | None:
        dims, other = _dims(t.shape), self.other.get(id(t))
        if dims is None or other is None or len(other) != len(dims):
            return _batchless(t.shape)
        return tuple(None if a != b else a for a, b in zip(dims, other))


def _dims(shape: Any) -> tuple | None:
    try:
        return None if shape is None else tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):  # unknown rank
        return None


def _why_not_symbolic(sym: TraceResult) -> str:
    """The symbolic trace's failure, short, with the user's line that defeated symbolic tensors."""
    reason = (sym.error.exception.split(". ")[0] if sym.error else "no functional twin")[:160].rstrip(".")
    if sym.error is not None and sym.error.file:
        reason += f" at {sym.error.file}:{sym.error.line}"
    return reason


class _EagerGraph:
    """The graph of recorded eager events, built call by call; tensors are matched by identity."""

    def __init__(self, name: str, specs: list[InputSpec], values: list, events: list, failed: _Call | None,
                 shape: Callable[[Any], tuple | None] | None = None):
        self.g = ModelGraph(name=name)
        self.shape = shape or (lambda t: _batchless(t.shape))
        self.where: dict[int, tuple[str, int]] = {}
        self.keep: list = list(values)  # tensors stay referenced, so their ids stay unique
        for s, v in zip(specs, values):
            _add_input(self.g, s)
            self.where[id(v)] = (s.name, 0)
        self.objects: dict[str, Any] = {}
        self.counts: dict[int, int] = {}
        for kind, ev in events:
            if kind == "layer":
                self.counts[id(ev.layer)] = self.counts.get(id(ev.layer), 0) + 1
        if failed is not None:
            self.counts[id(failed.layer)] = self.counts.get(id(failed.layer), 0) + 1
        self.seen: dict[int, int] = {}
        self.used_names = set(self.g.nx.nodes)

    def add_op(self, op_type: str, ins: list, outs: list) -> None:
        """A TensorFlow op run between layer calls, as an ``op`` node."""
        nid = _unique(_snake(op_type), self.used_names)
        self.g.add_node(nid, name=nid, class_name=op_type, module="tensorflow", registered_name=None, kind="op",
                        call_index=0, num_calls=1, config={"name": nid}, activation=None, trainable=True,
                        input_shapes=[], output_shapes=[self.shape(t) for t in outs],
                        output_dtypes=[_dtype(t) for t in outs])
        _connect(self.g, nid, [t for t in ins if id(t) in self.where], self.where, self.used_names, self.keep,
                 self.shape)
        self._produced(nid, outs)

    def add_call(self, ev: _Call) -> None:
        """One layer call (the k-th of its layer), wired to the tensors it consumed."""
        layer = ev.layer
        k = self.seen[id(layer)] = self.seen.get(id(layer), -1) + 1
        nid = node_id(layer.name, k, self.counts[id(layer)])
        e = serialize(layer)
        attrs = base_attrs(layer, e, node_kind(layer, e), True)
        kwargs = {a: v for a, v in ev.kwargs.items() if not _tensors(v)}
        attrs.update(call_index=k, num_calls=self.counts[id(layer)], call_kwargs=kwargs or None,
                     output_shapes=[self.shape(t) for t in _tensors(ev.out)],
                     output_dtypes=[_dtype(t) for t in _tensors(ev.out)])
        self.g.add_node(nid, **attrs)
        self.used_names.add(nid)
        self.objects[nid] = layer
        _connect(self.g, nid, _tensors((ev.args, ev.kwargs)), self.where, self.used_names, self.keep, self.shape)
        self._produced(nid, _tensors(ev.out))

    def _produced(self, nid: str, outs: list) -> None:
        self.keep.extend(outs)
        for i, t in enumerate(outs):
            self.where[id(t)] = (nid, i)


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


def _connect(g: ModelGraph, nid: str, tensors: list, where: dict, used: set, keep: list,
             shape: Callable[[Any], tuple | None]) -> None:
    for j, t in enumerate(tensors):
        if id(t) not in where:  # produced by code we could not see (numpy, another backend)
            src = _unique("untracked", used)
            g.add_node(src, name=src, class_name="Untracked", module=None, registered_name=None, kind="op",
                       call_index=0, num_calls=1, config={"name": src}, activation=None, trainable=True,
                       input_shapes=[], output_shapes=[shape(t)], output_dtypes=[_dtype(t)])
            keep.append(t)
            where[id(t)] = (src, 0)
        src, ti = where[id(t)]
        g.add_edge(src, nid, arg_index=j, tensor_index=ti, shape=shape(t), dtype=_dtype(t))
    g.nx.nodes[nid]["input_shapes"] = [shape(t) for t in tensors]


@contextlib.contextmanager
def _tf_ops(rec: _Recorder) -> Iterator[None]:
    """Record TensorFlow ops executed eagerly between layer calls (depth 0)."""
    try:
        from tensorflow.python.framework import op_callbacks
    except Exception:  # another backend: ops between layers show up as untracked inputs
        yield
        return

    def callback(op_type: str, inputs: Any, attrs: Any, outputs: Any, op_name: Any = None, graph: Any = None) -> None:
        if rec.depth == 0 and graph is None:   # TF gives some op types as bytes
            name = op_type.decode("utf-8", "replace") if isinstance(op_type, bytes) else str(op_type)
            rec.events.append(("op", (name, list(inputs or ()), list(outputs or ()))))

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
