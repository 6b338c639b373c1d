"""Keras Graph Inspector: open any Keras model as a networkx DAG of layer calls.

``import inspector`` never imports TensorFlow or Keras; only the paths that
need a live model (``read(model)``, ``--load``, tracing, feature extraction)
import them, lazily.

>>> import inspector
>>> g = inspector.read("model.keras")     # static: json/zipfile/h5py only
>>> g.inputs, g.outputs, g.layers
"""
from __future__ import annotations

import os
from typing import Any

from .errors import BadModelFile, InspectorError, UnsafeModel
from .graph import EDGE_FIELDS, NODE_FIELDS, ModelGraph

__version__ = "0.1.0"
__all__ = ["read", "from_config", "ModelGraph", "InspectorError", "BadModelFile", "UnsafeModel",
           "NODE_FIELDS", "EDGE_FIELDS", "__version__"]


def read(source: Any) -> ModelGraph:
    """Read a model into a :class:`ModelGraph`.

    ``source`` is a path to a ``.keras`` / ``.h5`` file (read statically: no
    TensorFlow import, nothing from the file executed) or, later, a live
    ``keras.Model``.
    """
    if isinstance(source, (str, os.PathLike)):
        from .static import read_file

        return read_file(os.fspath(source))
    raise InspectorError(f"cannot read a {type(source).__name__}: pass a path to a .keras or .h5 file")


def from_config(config: dict, name: str = "<config>") -> ModelGraph:
    """Graph of a model config dict (``model.get_config()`` wrapped as saved, or a
    parsed ``config.json``) without weights: parameter counts are unknown."""
    from .config_graph import build_graph, is_model_config

    if not is_model_config(config):
        raise BadModelFile("not a Functional/Sequential model config (no layer list)", name)
    return build_graph(config, None, name)
