"""A live ``keras.Model`` (or layer) as a ModelGraph: walked when it has a layer
graph, traced otherwise. The entry point of :func:`inspector.read` for objects.
"""
from __future__ import annotations

from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph
from inspector.readers.live.loading import import_keras
from inspector.readers.live.nodes import has_graph
from inspector.readers.live.trace import TraceFailed, live_graph, trace


def read_model(model: Any) -> ModelGraph:
    """Graph of a live ``keras.Model`` (or layer): walked when it has a graph, traced otherwise.

    Raises :class:`inspector.readers.live.trace.TraceFailed` (an ``InspectorError`` carrying
    the partial graph as ``.result``) when a subclassed model's ``call`` fails.
    """
    keras = import_keras()
    if not isinstance(model, keras.layers.Layer):
        if type(model).__module__.startswith("tf_keras"):
            raise InspectorError("tf-keras (Keras 2) models are read from their saved file: "
                                 "model.save('m.h5'), then inspector.read('m.h5')")
        raise InspectorError(f"cannot read a {type(model).__name__}: pass a keras.Model or a path "
                             "to a .keras or .h5 file")
    if has_graph(model):
        g, _ = live_graph(model)
        g.meta.update(source="<live model>", format="live", keras_runtime=keras.__version__)
        return g
    result = trace(model)
    if result.error is not None:
        raise TraceFailed(result)
    return result.graph
