"""Exporters: the graph as JSON or GraphML, chosen by the output suffix."""
from __future__ import annotations

import os

from inspector.atomic import write_text
from inspector.errors import InspectorError
from inspector.graph import ModelGraph

FORMATS = {".json": "json", ".graphml": "graphml"}


def export(g: ModelGraph, out: str) -> str:
    """Write ``g`` to ``out`` (format from the suffix); returns the format name."""
    fmt = FORMATS.get(os.path.splitext(out)[1].lower())
    if fmt is None:
        raise InspectorError(f"unknown export format; use one of {', '.join(sorted(FORMATS))}", out)
    write_text(out, g.to_json() if fmt == "json" else g.to_graphml())
    return fmt
