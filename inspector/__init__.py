"""Keras Graph Inspector: open any Keras model as a networkx DAG of layer calls.

``import inspector`` never imports TensorFlow or Keras; only the paths that
need a live model (``read(model)``, ``--load``, tracing, feature extraction)
import them, lazily.

>>> import inspector
>>> g = inspector.read("model.keras")     # static: json/zipfile/h5lite, nothing imported or run
>>> g.inputs, g.outputs, g.layers
"""
from __future__ import annotations

from typing import Any

from inspector.errors import BadModelFile, InspectorError, UnsafeModel
from inspector.graph import EDGE_FIELDS, NODE_FIELDS, ModelGraph

__version__ = "0.1.0"
__all__ = ["read", "from_config", "ModelGraph", "InspectorError", "BadModelFile", "UnsafeModel",
           "NODE_FIELDS", "EDGE_FIELDS", "__version__",
           "feature_extractor", "graft", "extract_features", "render"]


def read(source: Any, allow_code: bool = False) -> ModelGraph:
    """Read a model into a :class:`ModelGraph`.

    ``source`` is a path to a ``.keras`` / ``.h5`` file (read statically: no
    TensorFlow import, nothing from the file executed) or a live Keras model:
    Functional and Sequential models are walked through Keras's own node graph
    (same node ids and attributes as reading the saved file); subclassed
    models are traced (:func:`inspector.readers.live.trace.trace`; ``meta["traced"]`` is
    set). A subclassed model whose ``call`` fails raises
    :class:`inspector.readers.live.trace.TraceFailed`, whose ``.result.graph`` is the graph
    up to the failing call.

    A file holding Lambda bytecode raises :class:`UnsafeModel` unless ``allow_code``;
    then those layers are shown flagged ``code=True`` (the code is never decoded or run).
    """
    from inspector.readers.source import read as impl

    return impl(source, allow_code=allow_code)


def from_config(config: dict, name: str = "<config>") -> ModelGraph:
    """Graph of a model config dict (``model.get_config()`` wrapped as saved, or a
    parsed ``config.json``) without weights: parameter counts are unknown."""
    from inspector.readers.config_graph import build_graph, is_model_config

    if not is_model_config(config):
        raise BadModelFile("not a Functional/Sequential model config (no layer list)", name)
    return build_graph(config, None, name)


def feature_extractor(model_or_path: Any, layers: Any, **kwargs: Any) -> Any:
    """A Keras model from the inputs ``layers`` need to their outputs (weights shared);
    see :func:`inspector.extract.submodel.feature_extractor`. Imports Keras."""
    from inspector.extract.submodel import feature_extractor as impl

    return impl(model_or_path, layers, **kwargs)


def graft(model_or_path: Any, at: Any, heads: Any, **kwargs: Any) -> Any:
    """The model plus new Dense heads (``"NAME:UNITS:ACTIVATION"``) at layer ``at``;
    see :func:`inspector.extract.graft.graft`. Imports Keras."""
    from inspector.extract.graft import graft as impl

    return impl(model_or_path, at, heads, **kwargs)


def extract_features(model_or_path: Any, layers: Any, data: str, out: str, **kwargs: Any) -> Any:
    """Run an extractor over ``.npy``/``.npz``/image-directory data into ``out``, batch by batch;
    see :func:`inspector.extract.features.extract_features`. Imports Keras."""
    from inspector.extract.features import extract_features as impl

    return impl(model_or_path, layers, data, out, **kwargs)


def render(source: Any, out: str, **options: Any) -> Any:
    """Draw a ModelGraph or model file to ``out`` (.svg .png .pdf .dot .html, from the suffix);
    see :func:`inspector.render.render` for the options. Never imports TensorFlow."""
    from inspector.render import render as impl

    return impl(source, out, **options)


# ModelGraph's diagram conveniences. The graph layer knows nothing of the renderer (a
# consumer built on it), so the package that holds both adds them here.
def _to_graphviz(self: ModelGraph, fmt: str = "svg", **options: Any) -> Any:
    """The diagram as a :class:`graphviz.Source` (options as for :func:`inspector.render`)."""
    from inspector.render import to_graphviz

    return to_graphviz(self, fmt, **options)


def _repr_svg_(self: ModelGraph) -> str | None:
    """The diagram, for Jupyter (which calls this): see :func:`inspector.render.notebook_svg`."""
    from inspector.render import notebook_svg

    return notebook_svg(self)


ModelGraph.to_graphviz = _to_graphviz  # type: ignore[attr-defined]
ModelGraph._repr_svg_ = _repr_svg_  # type: ignore[attr-defined]


def __getattr__(name: str) -> Any:
    """``inspector.callbacks`` (Keras callbacks, e.g. ActivationStats) and ``inspector.ray``
    (features on Ray Data): imported on first use, since they import Keras / Ray."""
    modules = {"callbacks": "inspector.numerics.callbacks", "ray": "inspector.extract.ray_engine"}
    if name in modules:
        import importlib

        return importlib.import_module(modules[name])
    raise AttributeError(f"module 'inspector' has no attribute {name!r}")
