"""The one rule for what a config entry is: a ``keras.ops`` operation or a layer.

Every reader and rule table asks :func:`is_op` (the static reader on whole entries, the shape,
dtype and MAC rules on a class name and config), so they cannot disagree.
"""
from __future__ import annotations

import re
from typing import Any

from inspector.layers.op_names import OP_CLASSES

#: Operation classes that earlier Keras 3 releases saved and the current one has renamed
#: (``Swish`` is ``Silu`` today): files saved then still hold them.
RENAMED_OP_CLASSES = frozenset({"Swish"})


def short_name(class_name: str) -> str:
    """``keras.layers.Dense`` / ``keras>Dense`` -> ``Dense``."""
    return re.split(r"[.>]", class_name)[-1]


def is_op(entry: dict[str, Any]) -> bool:
    """Keras 3 saves ``keras.ops`` calls in functional graphs as entries from ``keras.src.ops``;
    a legacy ``.h5`` entry (no ``module``) is an operation when its class is one of Keras's
    operation classes and its config lacks what every layer config has (``trainable``)."""
    module = entry.get("module")
    if isinstance(module, str) and module:
        return module.startswith("keras.src.ops") or module.startswith("keras.ops")
    cfg = entry.get("config")
    name = short_name(str(entry.get("class_name") or ""))
    return ((name in OP_CLASSES or name in RENAMED_OP_CLASSES) and isinstance(cfg, dict)
            and "trainable" not in cfg and "batch_input_shape" not in cfg)


def is_op_call(class_name: str, config: dict[str, Any]) -> bool:
    """:func:`is_op` for rule tables that get a class name and config (no module)."""
    return is_op({"class_name": class_name, "config": config})
