"""Tracing models that carry no layer graph (subclassed models, custom layers).

Strategy 1, *symbolic*: call ``model.call`` on ``keras.Input`` tensors. Every
layer call and ``keras.ops`` op becomes a Keras node, and ``keras.Model(inputs,
outputs)`` over them is a functional *twin* sharing the model's layer objects
(same weights, same outputs), which the live reader then walks exactly.

Strategy 2, *eager* (when Python control flow on values or raw ``tf.*`` ops
defeat symbolic tensors): run ``model.call`` once on random inputs with a hook
around ``Layer.__call__`` recording each top-level layer call and the tensors
it consumed/produced; TensorFlow ops run between layers are recorded through
TF's op callbacks and appear as ``op`` nodes (:func:`inspector.readers.live.twins.eager_trace`).
Such a graph shows what one call did, so it is marked traced (``meta["traced"]``,
node attr ``traced``).

When the user's ``call`` fails, the result still holds the graph up to the
failure, with the failing call as a node marked ``failed=True`` / ``error``,
and a :class:`TraceFailure` naming the layer (by its attribute on the model),
the expected vs received shape and the user's source line.
"""
from __future__ import annotations

import warnings
from typing import Any

from inspector.graph import ModelGraph
from inspector.readers.live.eager import eager_trace
from inspector.readers.live.explain import TraceFailed, TraceFailure, TraceResult, _add_input, _failure, _finish_traced
from inspector.readers.live.loading import import_keras
from inspector.readers.live.nodes import _struct_list as _flat
from inspector.readers.live.nodes import tensor_ref
from inspector.readers.live.recorder import _attr_names, _hooked, _Recorder
from inspector.readers.live.specs import InputSpec, Template, call_template, model_input_specs
from inspector.readers.live.walk import functional_graph

__all__ = ["TraceFailed", "TraceFailure", "TraceResult", "live_graph", "trace", "trace_custom"]


# --------------------------------------------------------------------------- public entry
def trace(model: Any, input_specs: Any = None, *, _fallback: bool = True) -> TraceResult:
    """Trace ``model`` (any Keras layer/model) into a graph; see the module docstring.

    ``input_specs``: a list of :class:`InputSpec` or ``"name=shape[:dtype]"``
    strings, a ``{name: shape}`` dict, one shape tuple, or None to use the
    shapes the model was built with. Shapes exclude the batch dimension.
    Raises :class:`InspectorError` when no input shapes can be found.
    """
    import_keras()
    specs, kind = model_input_specs(model, input_specs)
    template = call_template(model, specs, kind)
    names = _attr_names(model)
    with warnings.catch_warnings():  # Keras's "unbuilt state" advice would bury our one error line
        warnings.filterwarnings("ignore", category=UserWarning, module="keras")
        sym = _symbolic(model, specs, template, names)
        if sym.error is None or not _fallback:
            return sym
        eager = eager_trace(model, specs, template, names, sym, trace_custom)
    if eager.error is not None and (eager.error.exception, eager.error.line) == (sym.error.exception, sym.error.line):
        return sym  # the same failure both ways: the user's code, not a limit of symbolic tensors
    if eager.error is None or eager.progress > sym.progress or (
            sym.error is not None and sym.error.node is None and eager.progress >= sym.progress):
        return eager  # a symbolic failure without a layer to blame is a limit of symbolic tensors
    return sym


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
        g, ids = live_graph(twin)
        _finish_traced(g, model, names, "symbolic", None)
        return TraceResult(g, twin, None, "symbolic", progress, ids=ids)
    failed = rec.failure if rec.failure is not None and rec.failure.exc is err else None
    produced = [t for k, c in rec.events for t in _flat(c.out) if isinstance(t, keras.KerasTensor)]
    wanted = produced + ([t for t in _flat((failed.args, failed.kwargs)) if isinstance(t, keras.KerasTensor)]
                         if failed else [])
    seen: set[int] = {id(t) for t in inputs}
    outs = [t for t in wanted if hasattr(t, "_keras_history") and not (id(t) in seen or seen.add(id(t)))]
    try:
        partial = keras.Model(struct, outs or list(inputs), name=model.name)
        g, ids = live_graph(partial)
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


def live_graph(model: Any, depth: int = 0, trainable: bool = True) -> tuple[ModelGraph, dict[int, str]]:
    """:func:`functional_graph` with custom layers' insides traced (what every live path shows)."""
    return functional_graph(model, depth, trainable, expand=trace_custom)


def trace_custom(layer: Any, g: ModelGraph, nid: str) -> ModelGraph | None:
    """Traced inside of a custom layer/model used as a layer, so `--expand-nested` can show it."""
    shapes = g.nx.nodes[nid]["input_shapes"]
    dtypes = [d.get("dtype") or "float32" for _, _, d in
              sorted(g.nx.in_edges(nid, data=True), key=lambda x: x[2]["arg_index"])]
    if len(shapes) != 1 or shapes[0] is None or len(shapes[0]) < 1:
        return None  # multi-tensor calls of custom layers: the call structure is the user's, not ours
    spec = InputSpec(f"{layer.name}_input", tuple(shapes[0][1:]), dtypes[0])
    try:
        result = trace(layer, [spec], _fallback=False)
    except Exception:  # a custom layer we cannot trace is still a node; only its inside stays hidden
        return None
    return result.graph if result.error is None else None
