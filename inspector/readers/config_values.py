"""Values read from a saved layer config: dicts, dtypes and shapes, tolerant of what any
Keras version wrote and of garbage (a value that is not what it should be reads as unknown)."""
from __future__ import annotations

from typing import Any

MAX_DIM = 2**40


def _d(v: Any) -> dict:
    """``v`` if it is a dict, else an empty one (hostile configs put anything anywhere)."""
    return v if isinstance(v, dict) else {}


def _dtype(cfg: dict) -> str | None:
    """Compute dtype of a layer from its (Keras 2 string or Keras 3 policy dict) dtype."""
    d = cfg.get("dtype")
    if isinstance(d, dict):
        d = _d(d.get("config")).get("name")
    if not isinstance(d, str):
        return None
    return {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(d, d)


def _shape(v: Any) -> tuple | None:
    """A saved shape (list of ints/None) as a tuple, or None if it is not one."""
    if isinstance(v, dict) and "class_name" in v:  # serialized TensorShape etc.
        return None
    if not isinstance(v, (list, tuple)) or len(v) > 64:
        return None
    out = []
    for d in v:
        if d is None or (isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM):
            out.append(d)
        elif isinstance(d, int) and d == -1:
            out.append(None)
        else:
            return None
    return tuple(out)
