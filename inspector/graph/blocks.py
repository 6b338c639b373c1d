"""Repeated blocks found by graph *structure*, whatever the layers are called.

A residual network whose layers kept Keras's default names (``conv1d_7``, ``add_3``)
says nothing by its names, yet its blocks are plain to see in the graph: between two
*cut points* (calls every path of the model goes through) lies a single-entry,
single-exit region, and the same region repeated k times in a row is a block ×k.

1. **Cut points.** In a topological order, call ``v`` at position ``i`` is a cut when no
   tensor made before it is still needed after it, except ``v``'s own output. A second
   pass leaves model inputs out of that count, so a mask or side input read by every block
   does not hide the cuts (the pass folding more wins).
2. **Segments.** The calls after one cut up to and including the next form a segment.
   Its signature is, call by call, the class, the config without names, the dtype policy,
   the shapes and the call's keyword arguments, plus the wiring between them by position.
   Blocks that differ only in hyper-parameters (kernel 11 vs 21, dilation 1 vs 4) differ.
3. **Runs.** A block is ``p`` consecutive segments (a post-LN transformer layer is four:
   attention + add, norm, feed-forward + add, norm) repeated ``k >= 2`` times in a row:
   a tandem repeat in the sequence of segment signatures. Left to right, the repeat
   covering the most segments wins; when the run can also start one segment later, it
   starts where the data fans out (a residual block begins where its skip splits off).

Model inputs and outputs never fold. Works on a :class:`ModelGraph` (:func:`repeated_blocks`)
or on any DAG given as an order and in-edges (:func:`find_runs`), which the diagram's
``--collapse`` uses on its view; nothing here imports Keras.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Sequence

#: A block is at most this many segments long (a transformer layer is 2 to 4).
MAX_PERIOD = 32

#: Config keys that name a layer, or hold its inbound references, rather than configure it.
_NAMES = frozenset({"name", "shared_object_id", "inbound_nodes"})

Inputs = Callable[[str], Sequence[tuple[str, int]]]  # node -> [(source, tensor index)] in argument order


@dataclass
class Fold:
    """One run of repeated blocks: ``blocks[j]`` are the node ids of repeat ``j``, in order."""

    blocks: list[list[str]]
    #: parameters and multiply-accumulates of one block (the first), None when unknown
    params_per_block: int | None = None
    macs_per_block: int | None = None
    #: of the whole run (a layer shared between blocks counted once)
    params: int | None = None
    macs: int | None = None

    @property
    def repeats(self) -> int:
        return len(self.blocks)

    @property
    def members(self) -> list[str]:
        return [n for b in self.blocks for n in b]

    @property
    def layers_per_block(self) -> int:
        return len(self.blocks[0])


# --------------------------------------------------------------------------- signatures
def _strip(v: Any) -> Any:
    """A config with every name (and tensor reference) removed, ready to compare."""
    if isinstance(v, dict):
        if v.get("class_name") == "__keras_tensor__":
            return "<tensor>"
        return {k: _strip(x) for k, x in v.items() if k not in _NAMES}
    if isinstance(v, (list, tuple)):
        return [_strip(x) for x in v]
    return v


def node_key(attrs: dict[str, Any]) -> Hashable:
    """What makes two layer calls interchangeable in a block: class, kind, config without
    names, dtype policy, shapes, call keywords. Hashable (a string)."""
    return json.dumps([attrs.get("class_name"), attrs.get("kind"), _strip(attrs.get("config")),
                       attrs.get("dtype_policy"), attrs.get("trainable"), attrs.get("input_shapes"),
                       attrs.get("output_shapes"), _strip(attrs.get("call_kwargs"))],
                      sort_keys=True, default=str)


# --------------------------------------------------------------------------- the core
def topological(order: Sequence[str], inputs: Inputs) -> list[str]:
    """``order`` made topological, keeping it wherever it already is (Kahn's, by position)."""
    pos = {n: i for i, n in enumerate(order)}
    succ: dict[str, list[str]] = {n: [] for n in order}
    indeg = dict.fromkeys(order, 0)
    for n in order:
        for s, _ in inputs(n):
            if s in pos:
                succ[s].append(n)
                indeg[n] += 1
    heap = [pos[n] for n in order if indeg[n] == 0]
    heapq.heapify(heap)
    out: list[str] = []
    while heap:
        n = order[heapq.heappop(heap)]
        out.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(heap, pos[m])
    return out if len(out) == len(order) else list(order)  # a cycle (never in a model): leave it


def segments(order: Sequence[str], inputs: Inputs, external: set[str]) -> list[list[str]]:
    """The order cut into segments, each ending at a cut point (see the module docstring)."""
    pos = {n: i for i, n in enumerate(order)}
    last = {n: i for i, n in enumerate(order)}
    for n in order:
        for s, _ in inputs(n):
            if s in pos:
                last[s] = max(last[s], pos[n])
    ends = [0] * (len(order) + 1)
    for n, i in pos.items():
        if n not in external and last[n] > i:
            ends[last[n]] += 1
    out, cur, live = [], [], 0
    for i, n in enumerate(order):
        cur.append(n)
        live -= ends[i]
        own = n not in external and last[n] > i
        live += own
        if live == own:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _signature(seg: list[str], prev: str | None, inputs: Inputs, key: Callable[[str], Hashable | None],
               external: set[str]) -> tuple | None:
    keys = [key(n) for n in seg]
    if any(k is None for k in keys):
        return None
    at = {n: i for i, n in enumerate(seg)}
    wiring = []
    for n in seg:
        for s, t in inputs(n):
            src: Any = at.get(s)
            if src is None:
                src = -1 if s == prev else ("x", s) if s in external else ("o", s)
            wiring.append((at[n], src, t))
    return tuple(keys), tuple(wiring)


def _best_repeat(seq: tuple, i: int, min_repeats: int) -> tuple[int, int]:
    """(period, count) of the tandem repeat starting at ``i`` covering the most segments."""
    best = (0, 0)
    n = len(seq)
    if seq[i] < 0:
        return best
    for p in range(1, min(MAX_PERIOD, (n - i) // min_repeats) + 1):
        if seq[i:i + p] != seq[i + p:i + 2 * p]:
            continue
        k = 2
        while seq[i:i + p] == seq[i + k * p:i + (k + 1) * p]:
            k += 1
        if k >= min_repeats and k * p > best[0] * best[1]:
            best = (p, k)
    return best


def find_runs(order: Sequence[str], inputs: Inputs, key: Callable[[str], Hashable | None],
              external: Iterable[str] = (), min_repeats: int = 2) -> list[list[list[str]]]:
    """Runs of repeated blocks in a DAG: each run a list of blocks, each block its node ids.

    ``inputs(n)`` gives the (source, tensor index) pairs ``n`` reads, in argument order;
    ``key(n)`` what makes ``n`` interchangeable with another call (None: never folded, e.g.
    model inputs and outputs); ``external`` the model inputs. Their tensors are counted as
    live (the first block's skip connection often reads the input) and, in a second pass,
    not (a mask every block reads would hide every cut): the pass folding more calls wins."""
    ext = set(external)
    topo = topological(list(order), inputs)
    fanout: dict[str, set[str]] = {}
    for n in topo:
        for s, _ in inputs(n):
            fanout.setdefault(s, set()).add(n)
    best: list[list[list[str]]] = []
    for side in ([set(), ext] if ext else [set()]):
        runs = _runs(segments(topo, inputs, side), inputs, key, ext, fanout, min_repeats)
        if sum(len(b) for r in runs for b in r) > sum(len(b) for r in best for b in r):
            best = runs
    return best


def _runs(segs: list[list[str]], inputs: Inputs, key: Callable[[str], Hashable | None], ext: set[str],
          fanout: dict[str, set[str]], min_repeats: int) -> list[list[list[str]]]:
    ids: dict[tuple, int] = {}
    seq_list = []
    for j, seg in enumerate(segs):
        sig = _signature(seg, segs[j - 1][-1] if j else None, inputs, key, ext)
        seq_list.append(-1 - j if sig is None else ids.setdefault(sig, len(ids)))
    seq = tuple(seq_list)
    runs, i = [], 0
    while i < len(seq):
        p, k = _best_repeat(seq, i, min_repeats)
        if not p:
            i += 1
            continue
        r = _rotation(seq, segs, fanout, i, p, k)
        start = i + r
        runs.append([[n for seg in segs[start + b * p:start + (b + 1) * p] for n in seg] for b in range(k)])
        i = start + k * p
    return runs


def _rotation(seq: tuple, segs: list[list[str]], fanout: dict[str, set[str]], i: int, p: int, k: int) -> int:
    """How far to shift the run so each block starts where the data fans out (0: no shift)."""
    end = i + k * p
    for r in range(p):
        if r and (end + r - 1 >= len(seq) or seq[end + r - 1] != seq[i + r - 1]):
            break
        entry = segs[i + r - 1][-1] if i + r > 0 else None
        if entry is not None and len(fanout.get(entry, ())) > 1:
            return r
    return 0


# --------------------------------------------------------------------------- on a ModelGraph
def repeated_blocks(g: Any, min_repeats: int = 2) -> list[Fold]:
    """The runs of repeated blocks of a :class:`ModelGraph`, with per-block totals."""
    store = g.store
    outputs = {o for o, _ in g.outputs}
    inputs_of: dict[str, list[tuple[str, int]]] = {}
    for nid in store.nodes:
        inputs_of[nid] = [(u, d.get("tensor_index") or 0) for u, _, d in g.in_edges(nid)]

    def key(nid: str) -> Hashable | None:
        a = store.nodes[nid]
        if a.get("kind") == "input" or nid in outputs or a.get("failed"):
            return None
        return node_key(a)

    external = {n for n in store.nodes if store.nodes[n].get("kind") == "input"}
    runs = find_runs(g.order(), inputs_of.__getitem__, key, external, min_repeats)
    return [fold_of(run, store.nodes.__getitem__) for run in runs]


def fold_of(blocks: list[list[str]], attrs: Callable[[str], dict[str, Any]]) -> Fold:
    """A :class:`Fold` with its totals: parameters on a layer's first call only, MACs on every call."""
    def totals(ids: list[str]) -> tuple[int | None, int | None]:
        params: int | None = 0
        macs: int | None = 0
        for n in ids:
            a = attrs(n)
            if (a.get("call_index") or 0) == 0:
                pt, pn = a.get("params_trainable"), a.get("params_non_trainable")
                params = None if params is None or (pt is None and pn is None) else params + (pt or 0) + (pn or 0)
            m = a.get("macs")
            macs = None if macs is None or m is None else macs + m
        return params, macs

    per_p, per_m = totals(blocks[0])
    all_p, all_m = totals([n for b in blocks for n in b])
    return Fold(blocks, per_p, per_m, all_p, all_m)
