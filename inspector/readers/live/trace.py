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

import contextlib
import functools
import warnings
from typing import Any, Iterator

from inspector.graph import ModelGraph
from inspector.readers.live.eager import eager_trace
from inspector.readers.live.explain import TraceFailed, TraceFailure, TraceResult, _add_input, _failure, _finish_traced
from inspector.readers.live.loading import import_keras
from inspector.readers.live.nodes import _struct_list as _flat
from inspector.readers.live.nodes import _sublayers, costs, is_custom, is_custom_class, tensor_ref
from inspector.readers.live.recorder import _attr_names, _hooked, _Recorder
from inspector.readers.live.refine import measure_shapes, refine_shapes
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


def trace_custom(layer: Any, g: ModelGraph, nid: str, node: Any = None) -> ModelGraph | None:
    """Traced inside of a custom layer/model used as a layer, so `--expand-nested` and `--depth` show it.

    With the Keras ``node`` of the call, the call is replayed as it was made (every tensor
    argument, positional or keyword, e.g. a decoder block's ``(x, padding_mask=...)``);
    without it, a single-tensor call is traced from the node's input shape."""
    if node is not None:
        return trace_call(layer, node)
    shapes = g.nx.nodes[nid]["input_shapes"]
    dtypes = [d.get("dtype") or "float32" for _, _, d in
              sorted(g.nx.in_edges(nid, data=True), key=lambda x: x[2]["arg_index"])]
    if len(shapes) != 1 or shapes[0] is None or len(shapes[0]) < 1:
        return None  # multi-tensor calls of custom layers need the node (their call structure is the user's)
    spec = InputSpec(f"{layer.name}_input", tuple(shapes[0][1:]), dtypes[0])
    try:
        result = trace(layer, [spec], _fallback=False)
    except Exception:  # a custom layer we cannot trace is still a node; only its inside stays hidden
        return None
    return result.graph if result.error is None else None


def trace_call(layer: Any, node: Any) -> ModelGraph | None:
    """The inner layer calls of one call of ``layer``: ``layer.call`` on fresh ``keras.Input`` s
    shaped like the node's tensors, arguments in the same places, so every sub-layer call and
    ``keras.ops`` op becomes a Keras node; the functional twin over them is walked (its own
    custom sub-layers expanded in turn). None when the call cannot run symbolically.

    Code that sizes a tensor from the batch dimension (``ops.broadcast_to(mask, (batch, ...))``,
    as keras-hub's attention masks do) cannot run on an open batch: the call is then replayed
    on a batch of 1 and the batch dimension shown open again (every shape is per sample)."""
    for batch in (None, 1):
        g = _replay(layer, node, batch)
        if g is not None:
            if batch is not None:
                _open_batch(g)
            g.class_name = type(layer).__name__
            g.meta["traced"] = True
            return g
    return None


def _replay(layer: Any, node: Any, batch: int | None) -> ModelGraph | None:
    import keras

    inputs: list[Any] = []
    several = sum(isinstance(t, keras.KerasTensor)
                  for t in keras.tree.flatten((node.arguments.args, node.arguments.kwargs))) > 1

    def fresh(t: Any) -> Any:
        if not isinstance(t, keras.KerasTensor):
            return t
        shape = tuple(t.shape)
        if batch is not None and shape:
            shape = (batch, *shape[1:])
        name = f"{layer.name}_input_{len(inputs)}" if several else f"{layer.name}_input"
        i = keras.Input(batch_shape=shape, dtype=t.dtype, name=name)
        inputs.append(i)
        return i

    try:
        args = keras.tree.map_structure(fresh, tuple(node.arguments.args))
        kwargs = keras.tree.map_structure(fresh, dict(node.arguments.kwargs))
        with warnings.catch_warnings(), _specs_by_tracing(layer):
            warnings.filterwarnings("ignore", category=UserWarning, module="keras")
            out = layer.call(*args, **kwargs)
            twin = keras.Model(inputs, out, name=layer.name)
        g, _ = live_graph(twin)
    except Exception:  # symbolic tensors refused (value-dependent Python, raw backend ops): stays one box
        return None
    # dimensions Keras's symbolic call left open (attention projections, custom layers' declared shapes)
    if refine_shapes(g) | measure_shapes(layer, (args, kwargs, inputs), g):
        costs(g)
    return g


@contextlib.contextmanager
def _specs_by_tracing(layer: Any) -> Iterator[None]:
    """Sub-classes of Keras layers from outside Keras (keras-hub's ``CachedMultiHeadAttention``)
    take call arguments their Keras base's ``compute_output_spec`` does not (``cache=``), so a
    symbolic call of them fails; for the replay they get the generic rule instead (trace
    ``call`` on symbolic values), which takes whatever ``call`` takes."""
    import keras

    patched = []
    for sub in _sublayers(layer, recursive=True):
        cls = type(sub)
        if is_custom(sub) and any(not is_custom_class(base) and base.__dict__.get("compute_output_spec")
                                  for base in cls.__mro__[1:] if base is not keras.layers.Layer):
            sub.compute_output_spec = functools.partial(keras.layers.Layer.compute_output_spec, sub)
            patched.append(sub)
    try:
        yield
    finally:
        for sub in patched:
            del sub.compute_output_spec


def _open_batch(g: ModelGraph) -> None:
    """Shapes traced on a batch of 1 shown with the batch dimension open, as everywhere else."""
    def fix(shape: Any) -> Any:
        return (None, *tuple(shape)[1:]) if shape is not None and len(shape) > 0 else shape

    for _, a in g.nx.nodes(data=True):
        for key in ("input_shapes", "output_shapes"):
            if a.get(key) is not None:
                a[key] = [fix(s) for s in a[key]]
    for _, _, d in g.nx.edges(data=True):
        if d.get("shape") is not None:
            d["shape"] = fix(d["shape"])
    for sub in g.subgraphs.values():
        _open_batch(sub)
