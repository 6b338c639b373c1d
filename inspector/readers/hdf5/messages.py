"""Decoders for :mod:`inspector.readers.hdf5.lite`: header messages (pure functions over ``bytes``) and
dense link/attribute storage (v2 B-tree + fractal heap, read through h5lite's bounded reader).

Stdlib only. Layouts follow the HDF5 file format specification (version 3). Anything outside
the subset h5py writes raises :class:`H5Unsupported`; inconsistent bytes raise
:class:`H5Corrupt` (or a low-level error that h5lite's public API turns into ``H5Corrupt``).
"""
from __future__ import annotations

import io
import os
import struct
from typing import Any, BinaryIO, Callable

#: Largest number of values one attribute may decode to (lists of strings/numbers).
MAX_ATTR_ELEMENTS = 1 << 22
MAX_RANK = 32
UNDEF = {2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}
UINT = {1: "B", 2: "H", 4: "I", 8: "Q"}
MAX_LINKS = 1_000_000        # links in one group
MAX_NODES = 1_000_000        # B-tree nodes visited for one group
MAX_BLOCK = 256 << 20        # largest single metadata block read (heaps, header chunks)
PAGE_BITS = 14
PAGE = 1 << PAGE_BITS
MAX_PAGES = 4096             # page cache: 64 MiB, then flushed


class H5Unsupported(Exception):
    """The file uses an HDF5 feature h5lite does not implement: fall back to h5py."""


class H5Corrupt(ValueError):
    """The file's HDF5 structure is inconsistent (truncated, offsets out of range, loops, ...)."""


class DType:
    """A decoded datatype: ``kind`` is one of i u f b (bool) S (fixed string) T (vlen string)
    V (opaque) O (other vlen); ``name`` is numpy's ``str(dtype)`` for it, as h5py reports it."""

    __slots__ = ("kind", "size", "order", "name")

    def __init__(self, kind: str, size: int, order: str, name: str):
        self.kind, self.size, self.order, self.name = kind, size, order, name


class Reader:
    """Bounds-checked reads at addresses relative to the superblock, through a page cache.

    A real file (``io.FileIO`` underneath) is read with ``os.pread`` (5x cheaper than
    seek+read); other file objects with seek/read."""

    def __init__(self, f: BinaryIO, offset: int, size: int | None):
        self.f = f
        raw = getattr(f, "raw", f)
        self.fd = f.fileno() if isinstance(raw, io.FileIO) and hasattr(os, "pread") else None
        end = f.seek(0, io.SEEK_END)
        if offset < 0 or offset > end:
            raise H5Corrupt("offset is outside the file")
        self.start, self.base = offset, 0
        self.size = end - offset if size is None else min(size, end - offset)
        self.pages: dict[int, bytes] = {}

    def raw(self, pos: int, n: int) -> bytes:
        """``n`` bytes at ``pos`` (relative to ``offset``, not to the superblock)."""
        if self.fd is not None:
            out = os.pread(self.fd, n, self.start + pos)
        else:
            self.f.seek(self.start + pos)
            out = self.f.read(n)
        while len(out) < n:
            more = (os.pread(self.fd, n - len(out), self.start + pos + len(out)) if self.fd is not None
                    else self.f.read(n - len(out)))
            if not more:
                raise H5Corrupt(f"file ends early (reading {n} bytes at {pos})")
            out += more
        return out

    def read(self, addr: int, n: int) -> bytes:
        pos = self.base + addr
        o = pos & (PAGE - 1)
        if o + n <= PAGE and addr >= 0 and n >= 0 and pos + n <= self.size:
            page = self.pages.get(pos >> PAGE_BITS)
            if page is None:
                page = self._page(pos >> PAGE_BITS)
            return page[o:o + n]
        if addr < 0 or n < 0 or pos + n > self.size:
            raise H5Corrupt(f"address {addr} (+{n} bytes) is beyond the end of the file")
        if n > MAX_BLOCK:
            raise H5Unsupported(f"metadata block of {n} bytes")
        if n > 4 * PAGE:
            return self.raw(pos, n)
        out = b"".join(self.pages.get(j) or self._page(j) for j in range(pos >> PAGE_BITS, ((pos + n - 1) >> PAGE_BITS) + 1))
        return out[o:o + n]

    def upto(self, addr: int, n: int) -> bytes:
        """At most ``n`` bytes at ``addr`` (fewer at the end of the file)."""
        pos = self.base + addr
        o = pos & (PAGE - 1)
        if o + n <= PAGE and addr >= 0 and pos + n <= self.size:
            page = self.pages.get(pos >> PAGE_BITS)
            if page is None:
                page = self._page(pos >> PAGE_BITS)
            return page[o:o + n]
        return self.read(addr, max(0, min(n, self.size - pos)))

    def _page(self, i: int) -> bytes:
        if len(self.pages) >= MAX_PAGES:
            self.pages.clear()
        page = self.pages[i] = self.raw(i << PAGE_BITS, min(PAGE, self.size - (i << PAGE_BITS)))
        return page


class Layout:
    """One file's sizes (offsets ``O``, lengths ``L``, group B-tree K) and struct unpackers."""

    def __init__(self, O: int, L: int, leaf_k: int, node_k: int):
        self._O, self._L = O, L
        self.cont = struct.Struct(f"<{UINT[O]}{UINT[L]}").unpack_from
        self._two = struct.Struct(f"<2{UINT[O]}").unpack_from
        self._heapfmt = struct.Struct(f"<2{UINT[L]}{UINT[O]}").unpack_from
        self._structs: dict[tuple[str, int], Any] = {}
        leaf_k, node_k = min(leaf_k, 64), min(node_k, 64)  # (only sizes of speculative reads)
        self._sizes = (8 + 2 * L + O, 8 + 2 * O, 2 * O + 24, 8 + 2 * O + (2 * node_k + 1) * L + 2 * node_k * O,
                       8 + 2 * leaf_k * (2 * O + 24))

    def _struct(self, what: str, n: int) -> Any:
        """Cached struct unpackers: the n children of a B-tree node, the n entries of a SNOD."""
        fn = self._structs.get((what, n))
        if fn is None:
            O, L = self._O, self._L
            fmt = f"{L}x{UINT[O]}" * n if what == "tree" else f"{UINT[O]}{UINT[O]}I20x" * n
            fn = self._structs[(what, n)] = struct.Struct("<" + fmt).unpack_from
        return fn

    def stab_links(self, r: Reader, d: bytes) -> dict[str, int | tuple]:
        """Old-style group (symbol table message ``d``): walk the v1 B-tree of symbol nodes,
        names in the local heap. name -> address (hard link) or ('soft', path)."""
        btree, heap = self._two(d)
        hsz, nsize, esize, node_read, snod_read = self._sizes
        hd = r.upto(heap, hsz + 256)
        if hd[:5] != b"HEAP\0" or len(hd) < hsz:
            raise H5Corrupt("bad local heap")
        size, _, daddr = self._heapfmt(hd, 8)
        names = hd[hsz:hsz + size] if daddr == heap + hsz and hsz + size <= len(hd) else r.read(daddr, size)
        find = names.index
        out: dict[str, int | tuple] = {}
        stack: list[tuple[int, int]] = [(btree, -1)]
        seen: set[int] = set()
        while stack:
            addr, want = stack.pop()
            if addr in seen or len(seen) > MAX_NODES:
                raise H5Corrupt("loop in a group B-tree") if addr in seen else H5Unsupported("group B-tree too large")
            seen.add(addr)
            node = r.upto(addr, node_read)
            level, n = node[5], node[6] | node[7] << 8
            if node[:5] != b"TREE\0" or (want >= 0 and level != want):
                raise H5Corrupt(f"bad group B-tree node at {addr}")
            if nsize + n * (self._O + self._L) + self._L > len(node):
                node = r.read(addr, nsize + n * (self._O + self._L) + self._L)
            kids = self._struct("tree", n)(node, nsize)
            if level:
                stack.extend((k, level - 1) for k in reversed(kids))
                continue
            for snod in kids:
                ents = r.upto(snod, snod_read)
                count = ents[6] | ents[7] << 8
                if ents[:5] != b"SNOD\1":
                    raise H5Corrupt(f"bad symbol table node at {snod}")
                if 8 + count * esize > len(ents):
                    ents = r.read(snod, 8 + count * esize)
                vals = self._struct("snod", count)(ents, 8)
                for i in range(0, 3 * count, 3):
                    noff = vals[i]
                    name = names[noff:find(b"\0", noff)].decode("utf-8", "surrogateescape")
                    if vals[i + 2] == 2:  # soft link: its value is in the local heap
                        soff = struct.unpack_from("<I", ents, 8 + (i // 3) * esize + 2 * self._O + 8)[0]
                        out[name] = ("soft", _text(names[soff:find(b"\0", soff)]))
                    else:
                        out[name] = vals[i + 1]
                if len(out) > MAX_LINKS:
                    raise H5Unsupported(f"a group with more than {MAX_LINKS} links")
        return out

_FLOATS = {(2, 5, 10): "float16", (4, 8, 23): "float32", (8, 11, 52): "float64", (2, 8, 7): "bfloat16"}
_CODES = {"i": {1: "b", 2: "h", 4: "i", 8: "q"}, "u": {1: "B", 2: "H", 4: "I", 8: "Q"},
          "f": {2: "e", 4: "f", 8: "d"}, "b": {1: "b"}}


def parse_datatype(d: bytes, p: int = 0, depth: int = 0) -> tuple[DType, int]:
    """Decode the datatype message at ``d[p:]``; returns (DType, offset just past it)."""
    if depth > 4:
        raise H5Unsupported("datatype nested too deeply")
    cv = d[p]
    cls, ver = cv & 15, cv >> 4
    bits = d[p + 1] | d[p + 2] << 8 | d[p + 3] << 16
    (size,) = struct.unpack_from("<I", d, p + 4)
    if ver not in (1, 2, 3, 4):  # 4 (HDF5 1.12+) only changes the reference class
        raise H5Unsupported(f"datatype message version {ver}")
    if size == 0:
        raise H5Corrupt("datatype of size 0")
    p += 8
    big = bits & 1
    if cls == 0:  # fixed-point
        if size not in (1, 2, 4, 8):
            raise H5Unsupported(f"{size}-byte integer")
        kind = "i" if bits & 8 else "u"
        name = (f">{kind}{size}" if big and size > 1 else ("int" if kind == "i" else "uint") + str(size * 8))
        return DType(kind, size, ">" if big else "<", name), p + 4
    if cls == 1:  # floating point
        if bits & 0x40:
            raise H5Unsupported("VAX floating point")
        name = _FLOATS.get((size, d[p + 5], d[p + 7]))
        if name is None or struct.unpack_from("<HH", d, p) != (0, size * 8):
            raise H5Unsupported(f"{size}-byte floating point type")
        if big and size > 1:
            name = f">f{size}" if name != "bfloat16" else ">bfloat16"
        return DType("f", size, ">" if big else "<", name), p + 12
    if cls == 3:  # fixed-length string
        return DType("S", size, "|", f"|S{size}"), p
    if cls == 5:  # opaque (h5py writes ml_dtypes.bfloat16 this way)
        return DType("V", size, "|", f"|V{size}"), p + (bits & 0xFF)
    if cls == 8:  # enumeration: h5py's bool is an int8 enum {FALSE: 0, TRUE: 1}
        n = bits & 0xFFFF
        base, p = parse_datatype(d, p, depth + 1)
        if base.kind not in "iu":
            raise H5Unsupported("enumeration over a non-integer type")
        names = []
        for _ in range(n):
            e = d.index(b"\0", p)
            names.append(d[p:e])
            p = e + 1 if ver >= 3 else p + ((e - p + 8) & ~7)
        if p + n * base.size > len(d):
            raise H5Corrupt("enumeration values are truncated")
        values = [int.from_bytes(d[p + i * base.size:p + (i + 1) * base.size], "big" if base.order == ">" else "little",
                                 signed=base.kind == "i") for i in range(n)]
        p += n * base.size
        if base.size == 1 and base.kind == "i" and sorted(zip(names, values)) == [(b"FALSE", 0), (b"TRUE", 1)]:
            return DType("b", 1, "|", "bool"), p
        return DType(base.kind, base.size, base.order, base.name), p
    if cls == 9:  # variable-length sequence or string
        base, p = parse_datatype(d, p, depth + 1)
        return DType("T" if bits & 15 == 1 else "O", size, "|", "object"), p
    raise H5Unsupported(f"datatype class {cls}")


def parse_dataspace(d: bytes, L: int) -> tuple[int, ...] | None:
    """Shape of a dataspace message: ``()`` scalar, ``None`` null (h5py's Empty)."""
    ver, rank = d[0], d[1]
    if ver == 1:
        kind, p = (1 if rank else 0), 8
    elif ver == 2:
        kind, p = d[3], 4
    else:
        raise H5Unsupported(f"dataspace message version {ver}")
    if rank > MAX_RANK:
        raise H5Corrupt(f"dataspace of rank {rank}")
    if kind == 2:
        return None
    if kind == 0:
        return ()
    if kind != 1:
        raise H5Corrupt(f"dataspace type {kind}")
    return struct.unpack_from(f"<{rank}{UINT[L]}", d, p)


def shared_address(d: bytes, O: int, L: int) -> int:
    """Object header address a shared (committed) message points to."""
    ver, typ = d[0], d[1]
    if ver == 1:
        return struct.unpack_from("<" + UINT[O], d, 8 + L)[0]
    if ver == 2 or (ver == 3 and typ == 2):
        return struct.unpack_from("<" + UINT[O], d, 2)[0]
    raise H5Unsupported("message stored in the shared object header message heap")


def parse_link(d: bytes, O: int) -> tuple[bytes, int | tuple, int]:
    """A link message: (name, address (a hard link) | ('soft', path) | ('ext', file, path) |
    ('ud', type), creation order)."""
    if d[0] != 1:
        raise H5Unsupported(f"link message version {d[0]}")
    flags, p, ltype, order = d[1], 2, 0, 0
    if flags & 0x08:
        ltype = d[p]
        p += 1
    if flags & 0x04:
        order = struct.unpack_from("<q", d, p)[0]
        p += 8
    if flags & 0x10:
        p += 1
    w = 1 << (flags & 3)
    nlen = int.from_bytes(d[p:p + w], "little")
    p += w
    name = d[p:p + nlen]
    if not nlen or len(name) != nlen:
        raise H5Corrupt("bad link name")
    p += nlen
    if ltype == 0:
        return name, struct.unpack_from("<" + UINT[O], d, p)[0], order
    if ltype not in (1, 64):
        return name, ("ud", ltype), order
    (n,) = struct.unpack_from("<H", d, p)
    blob = d[p + 2:p + 2 + n]
    if len(blob) != n:
        raise H5Corrupt("link value is truncated")
    if ltype == 1:
        return name, ("soft", _text(blob)), order
    parts = blob[1:].split(b"\0")
    if blob[0] & 0xF0 or len(parts) < 2:
        raise H5Unsupported("external link format")
    return name, ("ext", _text(parts[0]), _text(parts[1])), order


def parse_attribute(d: bytes, O: int, L: int) -> tuple[str, DType | int, tuple | None, bytes]:
    """An attribute message: (name, DType or shared-type address, shape, raw data)."""
    ver, flags = d[0], d[1]
    nlen, tlen, slen = struct.unpack_from("<HHH", d, 2)
    if ver == 1:
        def pad(n: int) -> int:
            return (n + 7) & ~7
        p = 8
    elif ver in (2, 3):
        def pad(n: int) -> int:
            return n
        p = 9 if ver == 3 else 8
    else:
        raise H5Unsupported(f"attribute message version {ver}")
    if ver > 1 and flags & ~3:
        raise H5Unsupported("attribute message flags")
    name = d[p:p + nlen].rstrip(b"\0")
    p += pad(nlen)
    tdata = d[p:p + tlen]
    p += pad(tlen)
    if flags & 2:
        raise H5Unsupported("attribute with a shared dataspace")
    sdata = d[p:p + slen]
    p += pad(slen)
    if len(tdata) != tlen or len(sdata) != slen or p > len(d):
        raise H5Corrupt("attribute message is truncated")
    dtype = shared_address(tdata, O, L) if flags & 1 else parse_datatype(tdata)[0]
    return _text(name), dtype, parse_dataspace(sdata, L), d[p:]


def decode_values(dt: DType, shape: tuple | None, data: bytes, vlen: Callable[[int, int, int], bytes],
                  O: int) -> Any:
    """An attribute's value as h5py gives it, in plain Python: scalar, or (nested) list.

    Fixed-length strings are ``bytes`` (trailing NULs stripped, as numpy does), variable-length
    strings ``str``; ``vlen(addr, index, length)`` reads a global heap object."""
    if shape is None:
        return None
    n = 1
    for dim in shape:
        n *= dim
    outer = 1
    for dim in shape[:-1]:
        outer *= dim  # how many nested lists a multi-dimensional value builds
    if n > MAX_ATTR_ELEMENTS or outer > MAX_ATTR_ELEMENTS:
        raise H5Unsupported("attribute with too many elements")
    size, kind = dt.size, dt.kind
    if n * size > len(data):
        raise H5Corrupt("attribute data is truncated")
    if kind in "iufb":
        if dt.name.endswith("bfloat16"):
            raw = [data[i * 2:i * 2 + 2] for i in range(n)]
            vals = [struct.unpack(dt.order + "f", b"\0\0" + r if dt.order == "<" else r + b"\0\0")[0] for r in raw]
        else:
            vals = list(struct.unpack_from(f"{'>' if dt.order == '>' else '<'}{n}{_CODES[kind][size]}", data))
        if kind == "b":
            vals = [v != 0 for v in vals]
    elif kind == "S":
        vals = [data[i * size:(i + 1) * size].rstrip(b"\0") for i in range(n)]
    elif kind == "T":
        if size != 8 + O:
            raise H5Corrupt("variable-length string of unexpected size")
        fmt = "<I" + UINT[O] + "I"
        vals = []
        for i in range(n):
            length, addr, idx = struct.unpack_from(fmt, data, i * size)
            vals.append(_text(vlen(addr, idx, length)) if length else "")
    else:
        raise H5Unsupported(f"attribute values of type {dt.name}")
    return _nest(vals, shape)


def _nest(vals: list, shape: tuple) -> Any:
    if not shape:
        return vals[0]
    if len(shape) == 1:
        return vals
    step = len(vals) // shape[0] if shape[0] else 0
    return [_nest(vals[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")
