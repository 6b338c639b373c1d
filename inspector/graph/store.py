"""A minimal multi-digraph with the slice of networkx's API the readers use.

Why: importing networkx costs ~0.2 s, more than the static reader needs to read
a 1,000-layer model. Readers build into this class; :attr:`ModelGraph.nx`
converts to a real ``networkx.MultiDiGraph`` the first time anyone asks for it
(and from then on the graph lives in networkx). The semantics follow networkx:
insertion-ordered nodes, ``nodes[n]`` attribute dicts, ``in_edges``/``out_edges``/
``edges`` with ``keys``/``data`` flags, edges keyed per (u, v) pair.
"""
from __future__ import annotations

from typing import Any, Iterator


class _NodeView:
    def __init__(self, g: "LiteMultiDiGraph"):
        self._g = g

    def __getitem__(self, n: str) -> dict[str, Any]:
        return self._g._nodes[n]

    def __iter__(self) -> Iterator[str]:
        return iter(self._g._nodes)

    def __len__(self) -> int:
        return len(self._g._nodes)

    def __contains__(self, n: object) -> bool:
        return n in self._g._nodes

    def __call__(self, data: bool = False) -> Any:
        return list(self._g._nodes.items()) if data else list(self._g._nodes)


class LiteMultiDiGraph:
    """Insertion-ordered directed multigraph (nodes: str ids; edges: (u, v, key, attrs))."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, dict[str, dict[Any, dict[str, Any]]]] = {}
        self._pred: dict[str, dict[str, dict[Any, dict[str, Any]]]] = {}
        self.graph: dict[str, Any] = {}

    @property
    def nodes(self) -> _NodeView:
        return _NodeView(self)

    def __contains__(self, n: object) -> bool:
        return n in self._nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def add_node(self, n: str, **attrs: Any) -> None:
        if n not in self._nodes:
            self._nodes[n] = {}
            self._succ[n] = {}
            self._pred[n] = {}
        self._nodes[n].update(attrs)

    def add_edge(self, u: str, v: str, key: Any = None, **attrs: Any) -> Any:
        for n in (u, v):
            if n not in self._nodes:
                self.add_node(n)
        keys = self._succ[u].setdefault(v, {})
        if key is None:
            key = len(keys)
            while key in keys:
                key += 1
        d = keys.setdefault(key, {})
        d.update(attrs)
        self._pred[v].setdefault(u, {})[key] = d
        return key

    def number_of_nodes(self) -> int:
        return len(self._nodes)

    def number_of_edges(self) -> int:
        return sum(len(k) for nbrs in self._succ.values() for k in nbrs.values())

    def successors(self, n: str) -> Iterator[str]:
        return iter(self._succ[n])

    def predecessors(self, n: str) -> Iterator[str]:
        return iter(self._pred[n])

    def in_degree(self, n: str) -> int:
        return sum(len(k) for k in self._pred[n].values())

    def out_degree(self, n: str) -> int:
        return sum(len(k) for k in self._succ[n].values())

    def _emit(self, u: str, v: str, keys: dict, with_keys: bool, data: bool) -> Iterator[tuple]:
        for k, d in keys.items():
            t: tuple = (u, v)
            if with_keys:
                t += (k,)
            if data:
                t += (d,)
            yield t

    def in_edges(self, n: str, keys: bool = False, data: bool = False) -> list[tuple]:
        return [t for u, ks in self._pred[n].items() for t in self._emit(u, n, ks, keys, data)]

    def out_edges(self, n: str, keys: bool = False, data: bool = False) -> list[tuple]:
        return [t for v, ks in self._succ[n].items() for t in self._emit(n, v, ks, keys, data)]

    def edges(self, keys: bool = False, data: bool = False) -> list[tuple]:
        return [t for u in self._nodes for v, ks in self._succ[u].items() for t in self._emit(u, v, ks, keys, data)]

    def to_networkx(self) -> Any:
        import networkx as nx

        g = nx.MultiDiGraph()
        g.graph.update(self.graph)
        for n, a in self._nodes.items():
            g.add_node(n)
            g._node[n] = a  # share the attribute dicts: no copy, same objects
        for u in self._nodes:
            for v, ks in self._succ[u].items():
                for k, d in ks.items():
                    g.add_edge(u, v, key=k)
                    g._succ[u][v][k] = d
                    g._pred[v][u][k] = d
        return g


def topological_order(g: Any) -> list[str]:
    """Kahn's algorithm; ties broken by insertion order, so model order is kept.

    Raises ValueError with a cycle when there is one.
    """
    import heapq

    rank = {n: i for i, n in enumerate(g.nodes)}
    indeg = {n: 0 for n in rank}
    for n in rank:
        for _ in g.predecessors(n):
            indeg[n] += 1
    heap = [rank[n] for n, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    names = list(rank)
    out: list[str] = []
    while heap:
        n = names[heapq.heappop(heap)]
        out.append(n)
        for m in g.successors(n):
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(heap, rank[m])
    if len(out) != len(names):
        raise ValueError(find_cycle(g, [n for n in names if indeg[n] > 0]))
    return out


def find_cycle(g: Any, candidates: list[str]) -> list[str]:
    """A cycle among ``candidates`` (nodes left by Kahn's algorithm), iteratively."""
    left = set(candidates)
    start = candidates[0]
    seen: dict[str, int] = {}
    path: list[str] = []
    n = start
    while n not in seen:  # every leftover node has a leftover predecessor: walk back
        seen[n] = len(path)
        path.append(n)
        n = next(p for p in g.predecessors(n) if p in left)
    cycle = path[seen[n]:]
    cycle.reverse()
    return cycle + [cycle[0]]


def ancestors(g: Any, n: str) -> set[str]:
    seen: set[str] = set()
    stack = list(g.predecessors(n))
    while stack:
        m = stack.pop()
        if m not in seen:
            seen.add(m)
            stack.extend(g.predecessors(m))
    return seen
