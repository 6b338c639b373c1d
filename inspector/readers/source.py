"""Any model source to a ModelGraph: a path is read statically, a live Keras model is walked
or traced. What :func:`inspector.read` does, for the consumers that take "a graph or a path"."""
from __future__ import annotations

import os
from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph


def read(source: Any, allow_code: bool = False) -> ModelGraph:
    """See :func:`inspector.read`. Keras is imported only for a live model."""
    if isinstance(source, (str, os.PathLike)):
        from inspector.readers.static import read_file

        return read_file(os.fspath(source), allow_code=allow_code)
    # only a live model gets here; checking the class by module name keeps paths Keras-free
    if any(c.__module__.startswith(("keras.", "tf_keras.")) for c in type(source).__mro__):
        from inspector.readers.live.read import read_model

        return read_model(source)
    raise InspectorError(f"cannot read a {type(source).__name__}: pass a path to a .keras or .h5 file "
                         "or a keras.Model")
