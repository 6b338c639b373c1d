"""A layered (Sugiyama-style) layout in near-linear time, for graphs too big for ``dot``.

Graphviz's ``dot`` places x-coordinates with network simplex, whose set-up is
quadratic: a 10,000-layer model takes minutes however its limits are set. Here:

1. ranks by longest path from the inputs (a layer sits one below its deepest input);
2. edges spanning several ranks get *dummy* points, so they bend around boxes
   instead of running through them;
3. a few barycentre sweeps order each rank (fewer crossings);
4. x-coordinates by alternating sweeps that pull each box to the mean of its
   neighbours, made non-overlapping by isotonic regression (pool-adjacent-violators,
   linear per rank).

Graphviz still *draws* the result (``neato -n2`` keeps given positions), so SVG,
PNG and PDF look like the rest; :mod:`.fallback` draws it as SVG without Graphviz.
Coordinates here are screen points: x right, y down.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

#: gap between boxes in a rank, and between ranks (points)
NODESEP = 14.0
RANKSEP = 30.0
DUMMY = 6.0  # breadth of an edge's bend point
SWEEPS = 4


@dataclass
class Layout:
    pos: dict[str, tuple[float, float]]  # box centres
    size: dict[str, tuple[float, float]]  # (width, height)
    routes: list[list[tuple[float, float]]]  # per edge, in input order: polyline points
    width: float
    height: float


def layered_layout(ids: list[str], edges: list[tuple[str, str]], size: dict[str, tuple[float, float]],
                   rankdir: str = "TB", ranksep: float = RANKSEP) -> Layout:
    """Positions for ``ids`` (any order) joined by ``edges`` (a DAG; parallel edges allowed);
    ``ranksep`` is the gap between ranks (wider when edges carry labels)."""
    horizontal = rankdir in ("LR", "RL")
    n = len(ids)
    idx = {d: i for i, d in enumerate(ids)}
    e_idx = [(idx[u], idx[v]) for u, v in edges]
    breadth = [size[d][1] if horizontal else size[d][0] for d in ids]
    depth = [size[d][0] if horizontal else size[d][1] for d in ids]
    rank = _ranks(n, e_idx)
    up, down, chains = _split_long_edges(n, e_idx, rank, breadth, depth)
    total = len(rank)
    layers: list[list[int]] = [[] for _ in range(max(rank) + 1 if rank else 0)]
    for v in _dfs_order(n, total, down, up):
        layers[rank[v]].append(v)
    _order_layers(layers, up, down, total)
    x, span_b = _breadth_coordinates(layers, up, down, breadth, total)

    rank_depth = [max((depth[v] for v in layer), default=0.0) for layer in layers]
    rank_top, acc = [], NODESEP
    for d in rank_depth:
        rank_top.append(acc)
        acc += d + ranksep
    span_d = acc - ranksep + NODESEP
    centre_d = [rank_top[rank[v]] + rank_depth[rank[v]] / 2 for v in range(total)]

    def screen(b: float, d: float) -> tuple[float, float]:
        if rankdir == "TB":
            return b, d
        if rankdir == "BT":
            return b, span_d - d
        if rankdir == "LR":
            return d, b
        return span_d - d, b  # RL

    pos = {ids[i]: screen(x[i], centre_d[i]) for i in range(n)}
    routes = _routes(chains, x, centre_d, depth, screen)
    w, h = (span_d, span_b) if horizontal else (span_b, span_d)
    return Layout(pos, {d: size[d] for d in ids}, routes, w, h)


def _split_long_edges(n: int, e_idx: list[tuple[int, int]], rank: list[int], breadth: list[float],
                      depth: list[float]) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Dummy vertices, one per rank a long edge crosses (``rank``/``breadth``/``depth`` grow);
    returns (up, down) adjacency and each edge's chain of vertices."""
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    chains: list[list[int]] = []
    for u, v in e_idx:
        chain = [u]
        for r in range(rank[u] + 1, rank[v]):
            w = len(rank)
            rank.append(r)
            breadth.append(DUMMY)
            depth.append(0.0)
            up.append([])
            down.append([])
            chain.append(w)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)
    return up, down, chains


def _order_layers(layers: list[list[int]], up: list[list[int]], down: list[list[int]], total: int) -> None:
    """Barycentre sweeps, down then up, to reduce crossings (sorts ``layers`` in place)."""
    order = [0.0] * total
    for layer in layers:
        for i, v in enumerate(layer):
            order[v] = i
    for sweep in range(SWEEPS):
        seq = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        for layer in seq:
            nb = up if sweep % 2 == 0 else down
            layer.sort(key=lambda v: sum(order[u] for u in nb[v]) / len(nb[v]) if nb[v] else order[v])
            for i, v in enumerate(layer):
                order[v] = i


def _breadth_coordinates(layers: list[list[int]], up: list[list[int]], down: list[list[int]],
                         breadth: list[float], total: int) -> tuple[list[float], float]:
    """Each vertex's position across the ranks (over its neighbours, without overlaps), and the span."""
    x = [0.0] * total
    for layer in layers:
        _place(layer, [0.0] * len(layer), breadth, x)
    for sweep in range(SWEEPS + 1):
        seq = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        nb = up if sweep % 2 == 0 else down
        for layer in seq:
            want = [sum(x[u] for u in nb[v]) / len(nb[v]) if nb[v] else x[v] for v in layer]
            _place(layer, want, breadth, x)
    lo = min((x[v] - breadth[v] / 2 for v in range(total)), default=0.0)
    x = [xi - lo + NODESEP for xi in x]
    return x, max((x[v] + breadth[v] / 2 for v in range(total)), default=0.0) + NODESEP


def _routes(chains: list[list[int]], x: list[float], centre_d: list[float], depth: list[float],
            screen: Any) -> list[list[tuple[float, float]]]:
    """Each edge as points through its dummy vertices; parallel edges side by side."""
    seen: dict[tuple[int, int], int] = {}
    routes = []
    for chain in chains:
        u, v = chain[0], chain[-1]
        k = seen.get((u, v), 0)
        seen[(u, v)] = k + 1
        off = 5.0 * ((k + 1) // 2) * (1 if k % 2 else -1) if k else 0.0
        pts = [(x[u] + off, centre_d[u] + depth[u] / 2)]
        pts += [(x[w], centre_d[w]) for w in chain[1:-1]]
        pts.append((x[v] + off, centre_d[v] - depth[v] / 2))
        routes.append([screen(b, d) for b, d in pts])
    return routes


def _ranks(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest-path rank of each vertex (Kahn's algorithm; a cycle is an internal error)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    heap = [i for i in range(n) if indeg[i] == 0]
    heapq.heapify(heap)
    rank = [0] * n
    done = 0
    while heap:
        u = heapq.heappop(heap)
        done += 1
        for v in succ[u]:
            rank[v] = max(rank[v], rank[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(heap, v)
    if done != n:
        raise ValueError("layout needs an acyclic graph")
    return rank


def _dfs_order(n: int, total: int, down: list[list[int]], up: list[list[int]]) -> list[int]:
    """Initial in-rank order: depth-first from the sources, so a branch stays together."""
    seen = [False] * total
    out: list[int] = []
    for s in range(total):
        if seen[s] or up[s]:
            continue
        stack = [s]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            out.append(v)
            stack.extend(reversed(down[v]))
    out.extend(v for v in range(total) if not seen[v])
    return out


def _place(layer: list[int], want: list[float], breadth: list[float], x: list[float]) -> None:
    """Positions closest (least squares) to ``want`` with no overlaps, keeping the order.

    With S_i the minimum distance from the first box to box i, y_i = x_i - S_i must be
    non-decreasing: isotonic regression of want_i - S_i, solved by pool-adjacent-violators.
    """
    if not layer:
        return
    offs = [0.0]
    for a, b in zip(layer, layer[1:]):
        gap = NODESEP if breadth[a] > DUMMY and breadth[b] > DUMMY else NODESEP / 3
        offs.append(offs[-1] + (breadth[a] + breadth[b]) / 2 + gap)
    blocks: list[list[float]] = []  # [sum, count, start]
    for i, (w, s) in enumerate(zip(want, offs)):
        blocks.append([w - s, 1.0, float(i)])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            top = blocks.pop()
            blocks[-1][0] += top[0]
            blocks[-1][1] += top[1]
    for total, count, start in blocks:
        y = total / count
        for i in range(int(start), int(start + count)):
            x[layer[i]] = y + offs[i]
