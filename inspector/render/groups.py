"""Pass 1 of ``--collapse``: group layer calls into blocks by their *names*.

Model builders name layers after the block they belong to:
``conv2_block1_1_conv`` (ResNet, DenseNet), ``block_3_expand_BN`` (MobileNetV2),
``block2a_se_squeeze`` (EfficientNet), ``normal_add_1_4`` (NASNet: the cell
index is a *suffix*). Every ``_``-prefix of a name, and every ``_``-suffix of a
name ending in a number, is a candidate *key*.

How a call picks its block:

* a key is only considered around this call: the calls sharing it that are
  connected to this one (so ``normal_concat`` across 18 NASNet cells is 18
  separate one-call groups, not a group);
* a key counts if that connected group has at least ``min_size`` calls;
  numbered keys (``conv2_block1``, ``…_4``) are preferred, as blocks are;
* of those, the *smallest* group wins (``conv2_block1`` rather than ``conv2``);
* then a chosen group that lies wholly inside another chosen group joins it
  (EfficientNet's ``block2a_se`` into ``block2a``; a NASNet branch into its cell).

Layers Keras named itself (``activation_71``) say nothing by their name; they
take the keys their consumers share, so they join the block they feed.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from inspector.render.view import View, VNode

Key = tuple  # ("p", "conv2_block1") for a name prefix, ("s", "4") for a name suffix ("…_4")


def snake(cls: str) -> str:
    """Keras's own ``to_snake_case``, which makes its automatic layer names."""
    name = re.sub(r"\W+", "", cls)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(name: str, cls: Any) -> bool:
    """``dense``, ``dense_3``, ``batch_normalization_12``: named by Keras, so the name says nothing."""
    s = snake(str(cls or ""))
    return bool(s) and (name == s or re.fullmatch(re.escape(s) + r"_\d+", name) is not None)


def keys_of(name: str) -> list[Key]:
    """Candidate keys of a name. A prefix followed only by a number is Keras auto-numbering
    (``dense_1``), never a block."""
    tokens = name.split("_")
    out: list[Key] = []
    for i in range(1, len(tokens)):
        if not all(t.isdigit() for t in tokens[i:]):
            out.append(("p", "_".join(tokens[:i])))
    if len(tokens) > 1 and tokens[-1].isdigit():
        for i in range(len(tokens) - 1, 0, -1):
            if not all(t.isdigit() for t in tokens[:i]):
                out.append(("s", "_".join(tokens[i:])))
    return out


def numbered(k: Key) -> bool:
    return k[0] == "s" or any(c.isdigit() for c in k[1].rsplit("_", 1)[-1])


def stem(k: Key) -> str:
    """The key with its numbers blanked: ``blk#`` for ``blk7``, so repeated blocks share a stem."""
    return re.sub(r"\d+", "#", k[1])


def _repeated_stems(nodes: dict[str, VNode], keys: dict[str, list[Key]], comp: Any) -> Counter:
    """(cluster, stem) -> how many distinct connected groups of 2+ calls have a numbered prefix
    key of that stem. A block repeated by the model folds even when it is smaller than
    ``--collapse-min``: pass 2 then draws the repeats as one ``×N`` box."""
    seen: Counter = Counter(comp(did, k) for did, ks in keys.items() for k in ks if k[0] == "p" and numbered(k))
    out: Counter = Counter()
    for did, ks in keys.items():
        for k in ks:
            c = comp(did, k) if k[0] == "p" and numbered(k) else None
            if c is not None and seen[c] >= 2:
                out[(nodes[did].cluster, stem(k))] += 1
                seen[c] = 0  # count each group once
    return out


def label(k: Key) -> str:
    return k[1] if k[0] == "p" else "…_" + k[1]


def foldable(n: VNode) -> bool:
    """Model inputs and outputs always keep their own box."""
    return n.attrs.get("kind") != "input" and not n.is_output


def same_side(a: VNode, b: VNode) -> bool:
    """May share a block: same cluster, and both drawn or both --diff ghosts (what disappeared
    never hides inside a block of the drawn model)."""
    return a.cluster == b.cluster and (a.diff == "removed") == (b.diff == "removed")


class _DSU:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        parent = self.parent
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def name_groups(view: View, min_size: int) -> dict[str, list[str]]:
    """Group label -> member display ids (model order), for groups of at least two calls."""
    nodes = view.nodes
    succ: dict[str, list[str]] = defaultdict(list)
    for e in view.edges:
        succ[e.src].append(e.dst)
    keys: dict[str, list[Key]] = {}
    for did in reversed(list(nodes)):  # consumers before producers
        n = nodes[did]
        if not foldable(n):
            continue
        name = str(n.attrs.get("name") or did)
        if auto_name(name, n.attrs.get("class_name")):
            sets = [set(keys[s]) for s in succ[did] if s in keys and same_side(nodes[s], n)]
            keys[did] = sorted(set.intersection(*sets)) if sets else []
        else:
            keys[did] = keys_of(name)

    dsu = _DSU()
    for e in view.edges:
        if e.src in keys and e.dst in keys and same_side(nodes[e.src], nodes[e.dst]):
            for k in set(keys[e.src]).intersection(keys[e.dst]):
                dsu.union((nodes[e.src].cluster, k, e.src), (nodes[e.dst].cluster, k, e.dst))

    def comp(did: str, k: Key) -> Any:
        return dsu.find((nodes[did].cluster, k, did))

    size: Counter = Counter(comp(did, k) for did, ks in keys.items() for k in ks)

    def rank(did: str, k: Key) -> tuple[int, int]:  # smaller is narrower
        return size[comp(did, k)], -len(k[1].split("_"))

    def wider(did: str, o: Key, k: Key) -> bool:  # o may absorb k: bigger, or as big and more specific
        so, sk = size[comp(did, o)], size[comp(did, k)]
        return so > sk or (so == sk and len(o[1].split("_")) > len(k[1].split("_")))

    repeated = _repeated_stems(nodes, keys, comp)
    chosen: dict[str, Key] = {}
    for did, ks in keys.items():
        good = [k for k in ks if size[comp(did, k)] >= min_size]
        good = [k for k in good if numbered(k)] or good
        if not good:  # small numbered blocks (blk7_dense, blk7_relu, blk7_add) that the model repeats
            good = [k for k in ks if k[0] == "p" and numbered(k) and size[comp(did, k)] >= 2
                    and repeated[(nodes[did].cluster, stem(k))] >= 2]
        if good:
            chosen[did] = min(good, key=lambda k: rank(did, k))

    groups: dict[Any, list[str]] = defaultdict(list)
    for did, k in chosen.items():
        groups[comp(did, k)].append(did)
    key_of = {comp(dids[0], chosen[dids[0]]): chosen[dids[0]] for dids in groups.values()}
    into: dict[Any, Any] = {}
    for g, dids in groups.items():  # narrowest chosen group wholly containing this one
        k, d0 = key_of[g], dids[0]
        best = None
        for o in keys[d0]:
            go = comp(d0, o)
            if o == k or go not in groups or not wider(d0, o, k):
                continue
            if all(o in keys[m] and comp(m, o) == go for m in dids) and (best is None or rank(d0, o) < best[0]):
                best = (rank(d0, o), go)
        if best:
            into[g] = best[1]
    final: dict[Any, list[str]] = defaultdict(list)
    for g, dids in groups.items():
        while g in into:
            g = into[g]
        final[g].extend(dids)
    return _connected_pieces(view, final, key_of)


def _connected_pieces(view: View, final: dict[Any, list[str]], key_of: dict[Any, Key]) -> dict[str, list[str]]:
    """Split each group into its connected pieces (of 2+ calls), labelled ``key``, ``key#2``..."""
    pos = {did: i for i, did in enumerate(view.nodes)}
    group_of = {did: g for g, dids in final.items() for did in dids}
    dsu = _DSU()
    for e in view.edges:
        g = group_of.get(e.src)
        if g is not None and g == group_of.get(e.dst):
            dsu.union(e.src, e.dst)
    out: dict[str, list[str]] = {}
    taken: Counter = Counter()
    for g, dids in sorted(final.items(), key=lambda t: min(pos[d] for d in t[1])):
        pieces: dict[Any, list[str]] = defaultdict(list)
        for did in sorted(dids, key=pos.__getitem__):
            pieces[dsu.find(did)].append(did)
        cl = view.nodes[dids[0]].cluster
        base = f"{(cl + '/') if cl else ''}{label(key_of[g])}"
        if view.nodes[dids[0]].diff == "removed":
            base += " (removed)"
        for piece in sorted(pieces.values(), key=lambda p: pos[p[0]]):
            if len(piece) < 2:
                continue
            taken[base] += 1
            out[base if taken[base] == 1 else f"{base}#{taken[base]}"] = piece
    return out
