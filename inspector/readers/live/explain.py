"""A traced model's result and, when its ``call`` failed, the failure worded for
the user: the layer (by its attribute on the model), expected vs received
shape, the source line, and the nested layer it came from.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass, field
from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.readers.live.nodes import add_failed_call, costs
from inspector.readers.live.nodes import tensors as _tensors
from inspector.readers.live.recorder import _attr_names, _Call
from inspector.readers.live.specs import InputSpec, _first_line, _library_file, _rel, input_mismatch


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
    #: ``id(keras Node) -> node id`` of ``graph`` when it is the walk of ``twin`` (so a cut reuses it)
    ids: dict | None = field(default=None, repr=False)


class TraceFailed(InspectorError):
    """A model's ``call`` failed while tracing; ``.result`` holds the partial graph."""

    def __init__(self, result: TraceResult, path: str | None = None):
        super().__init__(result.error.message if result.error else "tracing failed", path)
        self.result = result


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
