"""Recording a model's layer calls: a hook around ``Layer.__call__`` that keeps each
top-level call (and the nested calls that raised), and the attribute names the
user's code gives its layers (``self.priority_scorer``).
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

from inspector.readers.live.specs import _library_file


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
