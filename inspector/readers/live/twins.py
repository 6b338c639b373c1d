"""Graphs to cut out of a live model, and the fallback when there is none.

* :func:`functional_of`: a Functional model as it is, a Sequential's functional
  twin, a subclassed model's traced twin (``inspector.readers.live.trace``) or, when its
  ``call`` fails, :func:`partial_twin`: the functional graph of the calls made
  before the failure, so layers computed before it can still be cut out.
* :class:`HookExtractor`: layer outputs captured during an eager forward pass,
  for models no symbolic tensor can trace.

(The tracer's own eager fallback, the graph of one eager call, is
:func:`inspector.readers.live.eager.eager_trace`.)

Keras is imported lazily: importing this module does not import TensorFlow.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from inspector.errors import InspectorError
from inspector.readers.live.recorder import _hooked, _Recorder
from inspector.readers.live.specs import call_template, model_input_specs
from inspector.readers.live.trace import trace


def functional_of(model: Any, input_specs: Any = None) -> tuple[Any | None, str | None, Any, Any]:
    """The functional graph to cut: ``(functional model or None, why not, trace failure or None,
    (graph, ids) of the tracer's walk of that model or None)``: the cut reuses that walk.

    Functional models are used as they are, a Sequential through its functional
    twin; a subclassed model through ``inspector.readers.live.trace.trace(...).twin`` (a
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
            return None, "the Sequential model is not built (give it an Input or call it once)", None, None
        return fn, None, None, None
    if isinstance(model, Functional):
        return model, None, None, None
    try:
        result = trace(model, input_specs=input_specs or None)
    except InspectorError as e:
        return None, e.message, None, None
    if result.twin is not None:
        walked = (result.graph, result.ids) if result.ids is not None else None
        return result.twin, None, None, walked
    if result.error is not None:
        return partial_twin(model, input_specs), result.error.message, result, None
    return None, "tracing gave no symbolic graph", None, None


def partial_twin(model: Any, input_specs: Any = None) -> Any | None:
    """A functional model of every top-level layer call ``model.call`` made before it failed.

    ``call`` runs on ``keras.Input`` tensors (as in :mod:`inspector.readers.live.trace`); the
    outputs of the calls that succeeded are connected to the inputs, so they
    form a functional model sharing the model's layers. None when no call
    succeeded or the pieces do not form a graph.
    """
    import keras

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
