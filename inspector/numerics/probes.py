"""Which tensors to watch, and what each one is: the layer calls of the live graph.

A probe is one output tensor of one layer call, named by the call's
:class:`~inspector.graph.ModelGraph` node id (``dense``, ``dense:1`` for a
shared layer's second call), or ``NODE#i`` for output ``i`` of a call with
several outputs. Node ids are those of ``inspector.read(model)`` on the live
model (the same ids as reading the saved file), so a stats file lines up with
``inspector summary`` and the diagram.

Dead units are counted only for *ReLU-family* outputs: tensors that are >= 0
by construction, where "never > 0" means the unit is stuck at zero:

* a layer whose ``activation`` is ``relu`` or ``relu6`` (Dense, Conv*, Activation ...);
* a ``ReLU`` layer with ``negative_slope == 0`` and ``threshold >= 0`` (a leaky
  ReLU's negative outputs are information, not death);
* the ``keras.ops.relu`` / ``relu6`` operations.

The channel axis is the last one, or axis 1 for a layer configured with
``data_format="channels_first"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspector.graph import ModelGraph

RELU_ACTIVATIONS = {"relu", "relu6"}
RELU_OPS = {"Relu", "Relu6"}


@dataclass(frozen=True)
class Probe:
    """One watched tensor."""

    key: str                    # node id, or "NODE#i" for output i of a multi-output call
    node: str                   # node id
    output: int                 # which output of the call
    name: str                   # layer (or operation) name
    call: int                   # which call of the layer (0 for the first)
    class_name: str | None
    channel_axis: int | None    # not None: count dead units along this axis


def is_relu_family(attrs: dict[str, Any]) -> bool:
    """Whether a call's outputs are >= 0 by construction (see the module docstring)."""
    cfg = attrs.get("config") or {}
    if attrs.get("activation") in RELU_ACTIVATIONS or cfg.get("activation") in RELU_ACTIVATIONS:
        return True
    if attrs.get("class_name") in RELU_OPS and attrs.get("kind") == "op":
        return True
    if attrs.get("class_name") == "ReLU":
        return float(cfg.get("negative_slope") or 0) == 0 and float(cfg.get("threshold") or 0) >= 0
    return False


def channel_axis(attrs: dict[str, Any]) -> int:
    return 1 if (attrs.get("config") or {}).get("data_format") == "channels_first" else -1


def make_probes(graph: ModelGraph | None, keys: list[str], outputs: dict[str, Any]) -> list[Probe]:
    """Probes for the extractor's output ``keys`` (node ids), given one batch of its ``outputs``
    (a list for a call with several outputs). Graph order; attributes from ``graph`` when it has the node."""
    rank = {n: i for i, n in enumerate(graph.order())} if graph is not None else {}
    probes = []
    for nid in sorted(keys, key=lambda k: rank.get(k, len(rank))):
        attrs = graph.node(nid) if graph is not None and nid in graph else {}
        out = outputs[nid]
        n_out = len(out) if isinstance(out, (list, tuple)) else 1
        relu = is_relu_family(attrs)
        for i in range(n_out):
            probes.append(Probe(key=nid if n_out == 1 else f"{nid}#{i}", node=nid, output=i,
                                name=attrs.get("name") or nid.rpartition(":")[0] or nid,
                                call=int(attrs.get("call_index") or 0), class_name=attrs.get("class_name"),
                                channel_axis=channel_axis(attrs) if relu else None))
    return probes


def select(outputs: dict[str, Any], probe: Probe, rows: int) -> Any:
    """The probe's array in one batch of extractor outputs, without the batch's padding rows."""
    out = outputs[probe.node]
    out = out[probe.output] if isinstance(out, (list, tuple)) else out
    return out[:rows] if getattr(out, "ndim", 0) and len(out) > rows else out
