"""Loading models with Keras (the live path). Imports TensorFlow/Keras lazily.

Safe mode is always on unless the caller passes ``unsafe=True`` explicitly:
Keras then refuses to deserialise Lambda bytecode and arbitrary functions.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import BadModelFile, UnsafeModel


def import_keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def load_model(path: str, unsafe: bool = False, compile: bool = False) -> Any:
    """``keras.models.load_model`` with safe mode, errors worded for users."""
    from .static import read_file

    read_file(path)  # validates the file statically first: corrupt/hostile files never reach Keras
    keras = import_keras()
    try:
        return keras.models.load_model(path, safe_mode=not unsafe, compile=compile)
    except ValueError as e:
        msg = str(e)
        if "safe_mode" in msg or "Lambda" in msg or "unsafe" in msg.lower():
            raise UnsafeModel("the model contains code (e.g. a Lambda layer) that Keras will only run "
                              "with --unsafe; use it only for files you trust", path) from None
        raise BadModelFile(f"Keras could not load the model: {msg.splitlines()[0] if msg else type(e).__name__}",
                           path) from None
    except TypeError as e:
        raise BadModelFile(f"Keras could not load the model (custom class not importable?): "
                           f"{str(e).splitlines()[0][:200]}", path) from None
