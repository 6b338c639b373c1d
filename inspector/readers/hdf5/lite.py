"""A small, read-only, pure-Python reader of HDF5 *metadata* (stdlib only: no numpy, no h5py).

It lists groups, dataset shapes and dtypes, and reads small attributes of the HDF5 files
Keras writes (``model.weights.h5`` in ``.keras`` zips; legacy full-model ``.h5`` files of
Keras 3 and tf-keras) without importing h5py/numpy (~0.2 s) and without h5py's ~1 ms per
object: walking NASNetLarge's weights takes tens of milliseconds instead of ~1 s. It never
reads dataset data (bench/h5lite_speed.py measures it).

API::

    with File.open(path) as f:          # or File(fileobj): any seekable binary file object,
        root = f.root                   # offset 0 = start of the HDF5 file (e.g. a zip window);
                                        # or File(fileobj, offset=, size=): a byte range of it
    Group:   .name  .keys() (sorted by name, like h5py)  .get(name_or_path, default=None)
             .items()  .attrs  .walk() -> [(path, obj)]  (also ``in``, ``iter``, ``len``)
    Dataset: .name  .shape (tuple; None for a null dataspace)  .dtype (numpy-style name, as
             h5py's str(dtype): 'float32', 'int64', 'bool', '>f4', '|S5', 'object' (vlen), '|V2'
             (opaque: how h5py stores ml_dtypes.bfloat16, as Keras saves it); a true 16-bit
             float with an 8-bit exponent, which h5py widens to float32, is 'bfloat16')  .attrs
    SoftLink: .path        ExternalLink: .filename .path      (returned, never followed)
    Group and Dataset also have .addr (object header address: equal addr = same object) and
    .refcount (hard links to the object, as h5py's ``h5o.get_info().rc``).

``attrs`` is a dict decoded on first access, values as h5py gives them converted to plain
Python: variable-length strings -> ``str``, fixed-length strings -> ``bytes`` (trailing NULs
stripped, as numpy does), numbers -> int/float/bool, arrays -> (nested) lists, h5py.Empty -> None.

Supported: superblock v0-v3 (user blocks too), object headers v1 and v2 with continuation
blocks, old-style groups (symbol table: v1 B-tree + SNOD + local heap), new-style compact
and dense groups (link messages; fractal heap + v2 B-tree), compact and dense attributes,
hard/soft/external links, committed (shared) datatypes, vlen strings in the global heap.

Errors: every public call raises only :class:`H5Unsupported` (a feature outside that subset:
the caller falls back to h5py -- e.g. external or virtual dataset storage, compound types,
user-defined links, shared-message heaps) or :class:`H5Corrupt` (a ``ValueError``). Reading is
bounded: every offset is checked against the file size, a truncated file (size < the
superblock's end-of-file address) is refused, traversals use explicit stacks, loops in
continuation chains and B-trees are detected, and object/link/node counts are capped.
Checksums of v2 structures are not verified.
"""
from __future__ import annotations

import struct
from typing import Any, BinaryIO

from inspector.readers.hdf5 import messages as msg
from inspector.readers.hdf5.dense import dense_records
from inspector.readers.hdf5.messages import MAX_BLOCK, MAX_LINKS, PAGE, PAGE_BITS, UINT, H5Corrupt, H5Unsupported
from inspector.readers.hdf5.nodes import Dataset, ExternalLink, Group, SoftLink, _attr_name, _guard, _Obj

__all__ = ["File", "Group", "Dataset", "SoftLink", "ExternalLink", "H5Unsupported", "H5Corrupt"]

#: Caps (exceeding one raises H5Unsupported: h5py may still read such a file); more in h5lite_messages.
MAX_OBJECTS = 1_000_000      # object headers parsed per file
MAX_CHUNKS = 10_000          # object header continuation blocks per object

SIGNATURE = b"\x89HDF\r\n\x1a\n"


_V1MSG = struct.Struct("<HHB").unpack_from
_V1HEAD = struct.Struct("<II").unpack_from
#: Message types kept as "the first of its type" (not attribute 12, link 6, continuation 16).
_ROUTINE = frozenset(set(range(1, 0x18)) - {6, 12, 16})


def _kind(first: dict, addr: int) -> str:
    """What an object is, from the messages its header holds."""
    if 0x11 in first or 0x02 in first:
        return "group"
    if 0x08 in first:
        if 0x01 not in first or 0x03 not in first:
            raise H5Corrupt(f"dataset {addr} without a dataspace or a datatype")
        layout = first[0x08][1]
        return "external" if 0x07 in first else "virtual" if layout[0] >= 3 and layout[1] == 3 else "dataset"
    if 0x03 in first:
        return "datatype"
    raise H5Corrupt(f"object {addr} is neither a group nor a dataset")


class File:
    """An HDF5 file opened for metadata reading: ``File(fileobj)`` or ``File.open(path)``.

    ``offset``/``size``: the HDF5 file is bytes ``[offset, offset + size)`` of ``fileobj``
    (e.g. a member stored uncompressed in a zip: no wrapper object needed)."""

    @_guard
    def __init__(self, fileobj: BinaryIO, offset: int = 0, size: int | None = None):
        self._f: BinaryIO | None = fileobj
        self._own = False
        self._r = r = msg.Reader(fileobj, offset, size)
        self._objs: dict[int, _Obj] = {}
        self._gheap: dict[int, tuple[bytes, dict[int, tuple[int, int]]]] = {}
        self._gheap_bytes = 0
        self._dtypes: dict[bytes, msg.DType] = {}  # parsed datatype / dataspace messages
        self._shapes: dict[bytes, tuple[int, ...] | None] = {}
        base = 0  # the superblock is at 0, or after a user block at 512, 1024, 2048, ...
        while base + 8 > r.size or r.raw(base, 8) != SIGNATURE:
            if base + 8 > r.size:
                raise H5Corrupt("not an HDF5 file (no superblock signature)")
            base = base * 2 if base else 512
        r.base = base
        sb = r.upto(0, 256)
        ver = sb[8]
        if ver in (0, 1):
            O, L = sb[13], sb[14]
            p = 24 if ver == 0 else 28
            k = struct.unpack_from("<HH", sb, 16)  # group leaf / internal node K
        elif ver in (2, 3):
            O, L = sb[9], sb[10]
            p, k = 12, (4, 16)
        else:
            raise H5Unsupported(f"superblock version {ver}")
        if O not in (2, 4, 8) or L not in (2, 4, 8):
            raise H5Unsupported(f"{O}-byte offsets / {L}-byte lengths")
        self._O, self._L = O, L
        self._fo, self._undef = "<" + UINT[O], msg.UNDEF[O]
        self._layout = msg.Layout(O, L, *k)
        self._cont = self._layout.cont
        base_field, _, eof, a4 = struct.unpack_from("<4" + UINT[O], sb, p)
        if ver < 2:
            if a4 != self._undef:
                raise H5Unsupported("driver information block (family/multi-file driver)")
            root = struct.unpack_from(self._fo, sb, p + 5 * O)[0]
        else:
            root = a4
        eof -= base_field - base  # the end-of-file address counts from the start of the file
        if eof > r.size:
            raise H5Corrupt(f"truncated file: {r.size} bytes, the superblock says {eof}")
        obj = self._load(root)
        if obj.kind != "group":
            raise H5Corrupt("root object is not a group")
        self.root = Group(self, obj, "/")

    @classmethod
    def open(cls, path: str, offset: int = 0, size: int | None = None) -> "File":
        try:
            f = open(path, "rb")
        except OSError as e:
            raise H5Corrupt(f"cannot open {path}: {e}") from None
        try:
            self = cls(f, offset, size)
        except BaseException:
            f.close()
            raise
        self._own = True
        return self

    def close(self) -> None:
        if self._own and self._f is not None:
            self._f.close()
        self._f = None

    def __enter__(self) -> "File":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- object headers -------------------------------------------------------------------
    def _load(self, addr: int) -> _Obj:
        obj = self._objs.get(addr)
        if obj is not None:
            return obj
        if len(self._objs) >= MAX_OBJECTS:
            raise H5Unsupported(f"more than {MAX_OBJECTS} objects")
        r = self._r
        chunk, p, end, v2, refcount = self._header(addr)
        first: dict[int, tuple[int, bytes]] = {}
        amsgs: list[tuple[int, bytes, int]] = []
        lmsgs: list[bytes] = []
        conts: list[tuple[int, int]] = []
        seen = None
        while True:
            if not v2:
                while p + 8 <= end:  # version 1 messages (the common case, kept lean)
                    t, n, mflags = _V1MSG(chunk, p)
                    q = p + 8 + n
                    if q > end:
                        raise H5Corrupt(f"object header message overruns its block (object {addr})")
                    if t in _ROUTINE:
                        if t not in first:
                            first[t] = (mflags, chunk[p + 8:q])
                    elif t:
                        self._special(t, mflags, chunk, p + 8, q, 0, amsgs, lmsgs, conts)
                    p = q
            else:
                while p + v2 <= end:
                    t, n, mflags = chunk[p], chunk[p + 1] | chunk[p + 2] << 8, chunk[p + 3]
                    q = p + v2 + n
                    if q > end:
                        raise H5Corrupt(f"object header message overruns its block (object {addr})")
                    if t in _ROUTINE:
                        if t not in first:
                            first[t] = (mflags, chunk[p + v2:q])
                    elif t:
                        order = chunk[p + 4] | chunk[p + 5] << 8 if v2 == 6 else 0  # attribute creation order
                        self._special(t, mflags, chunk, p + v2, q, order, amsgs, lmsgs, conts)
                    p = q
            if not conts:
                break
            caddr, clen = conts.pop()
            seen = seen or {addr}
            if caddr in seen or len(seen) > MAX_CHUNKS:
                raise H5Corrupt(f"object header continuation loop (object {addr})")
            seen.add(caddr)
            chunk = r.read(caddr, clen)
            p, end = 0, clen
            if v2:
                if chunk[:4] != b"OCHK":
                    raise H5Corrupt(f"bad object header continuation block (object {addr})")
                p, end = 4, clen - 4
        if 0x16 in first:
            refcount = struct.unpack_from("<I", first[0x16][1], 1)[0]
        obj = self._objs[addr] = _Obj(addr, first, amsgs, lmsgs, refcount, _kind(first, addr))
        return obj

    def _header(self, addr: int) -> tuple[bytes, int, int, int, int]:
        """(bytes holding the object header's first block, where its messages start and end,
        message prefix size: 0 for version 1, 4 or 6 for version 2; reference count)."""
        r = self._r
        pos = r.base + addr
        o = pos & (PAGE - 1)
        if o + 64 <= PAGE and addr >= 0 and pos + 16 <= r.size:  # parse in the cached page
            chunk = r.pages.get(pos >> PAGE_BITS) or r._page(pos >> PAGE_BITS)
        else:
            chunk, o = r.upto(addr, 512), 0
        if chunk[o] == 1 and chunk[o + 1] == 0:  # version 1
            refcount, size = _V1HEAD(chunk, o + 4)
            p, end = o + 16, o + 16 + size
            if end > len(chunk):
                chunk, p, end = r.read(addr, 16 + size), 16, 16 + size
            return chunk, p, end, 0, refcount
        if chunk[o:o + 5] == b"OHDR\x02":
            if len(chunk) < o + 40:
                chunk, o = r.upto(addr, 512), 0
            flags = chunk[o + 5]
            p = o + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
            w = 1 << (flags & 3)
            end = int.from_bytes(chunk[p:p + w], "little") + p + w
            p += w
            if end + 4 > len(chunk):  # (the checksum must be in the file too)
                chunk = r.read(addr, end - o + 4)
                p, end = p - o, end - o
            return chunk, p, end, 6 if flags & 4 else 4, 1
        if chunk[o:o + 4] == b"OHDR":
            raise H5Unsupported(f"object header version {chunk[o + 4]}")
        raise H5Corrupt(f"no object header at address {addr}")

    def _special(self, t: int, mflags: int, chunk: bytes, p: int, q: int, order: int, amsgs: list,
                 lmsgs: list, conts: list) -> None:
        """Attribute, link and continuation messages (and unknown ones that must be understood)."""
        if t == 12:
            amsgs.append((mflags, chunk[p:q], order))
        elif t == 16:
            conts.append(self._cont(chunk, p))
        elif t == 6:
            lmsgs.append(chunk[p:q])
        elif mflags & 0x80:
            raise H5Unsupported(f"unknown object header message type {t}")

    def _dtype(self, flags: int, data: bytes) -> msg.DType:
        dt = self._dtypes.get(data)
        if dt is None:
            if flags & 2:  # shared: a committed datatype elsewhere
                return self._committed(msg.shared_address(data, self._O, self._L))
            dt = msg.parse_datatype(data)[0]
            if len(self._dtypes) < 10_000:
                self._dtypes[data] = dt
        return dt

    def _committed(self, addr: int) -> msg.DType:
        found = self._load(addr).first.get(0x03)
        if found is None or found[0] & 2:
            raise H5Unsupported("shared datatype that is not a committed datatype")
        return msg.parse_datatype(found[1])[0]

    def _child(self, parent: str, key: str, link: int | tuple) -> Any:
        """The object a link (an address for hard links, else a tuple) names, at ``parent/key``."""
        path = parent + key if parent == "/" else parent + "/" + key
        if type(link) is int:
            obj = self._load(link)
            kind = obj.kind
            if kind == "group":
                return Group(self, obj, path)
            if kind == "dataset":
                return Dataset(self, obj, path)
            if kind == "external":
                raise H5Unsupported(f"dataset {path!r} keeps its data in external files")
            if kind == "virtual":
                raise H5Unsupported(f"dataset {path!r} is a virtual dataset")
            raise H5Unsupported(f"{path!r} is a committed datatype")
        if link[0] == "soft":
            return SoftLink(link[1], path)
        if link[0] == "ext":
            return ExternalLink(link[1], link[2], path)
        raise H5Unsupported(f"user-defined link {path!r} (type {link[1]})")

    # -- groups -----------------------------------------------------------------------------
    def _links(self, obj: _Obj) -> dict[str, int | tuple]:
        """name -> address (hard link) or ('soft', path) / ('ext', file, path) / ('ud', type)."""
        if obj.links is not None:
            return obj.links
        O = self._O
        found = obj.first.get(0x11)
        if found is not None:  # old-style: names in B-tree (= name) order, as h5py lists them
            obj.links = self._layout.stab_links(self._r, found[1])
            return obj.links
        found = obj.first.get(0x02)
        if found is None:
            raise H5Corrupt("group without link information")
        d = found[1]
        if d[0] != 0:
            raise H5Unsupported(f"link info message version {d[0]}")
        heap, index = struct.unpack_from(f"<2{UINT[O]}", d, 2 + (8 if d[1] & 1 else 0))
        if heap != self._undef:
            pairs = [msg.parse_link(m, O) for _, m in self._dense_records(heap, index, 5)]
        else:
            pairs = [msg.parse_link(m, O) for m in obj.lmsgs]
        # h5py lists by name, or by creation order where that is tracked
        pairs.sort(key=(lambda kv: kv[2]) if d[1] & 1 else (lambda kv: kv[0]))
        if len(pairs) > MAX_LINKS:
            raise H5Unsupported(f"a group with more than {MAX_LINKS} links")
        obj.links = {k.decode("utf-8", "surrogateescape"): v for k, v, _ in pairs}
        return obj.links

    def _dense_records(self, heap: int, index: int, rtype: int) -> list[tuple[bytes, bytes]]:
        return dense_records(self._r, self._O, self._L, heap, index, rtype)

    def _attrs(self, obj: _Obj) -> dict[str, Any]:
        if obj.attrs is not None:
            return obj.attrs
        O, L = self._O, self._L
        raw, tracked = list(obj.amsgs), False
        found = obj.first.get(0x15)
        if found is not None:
            d = found[1]
            if d[0] != 0:
                raise H5Unsupported(f"attribute info message version {d[0]}")
            tracked = bool(d[1] & 1)
            heap, index = struct.unpack_from(f"<2{UINT[O]}", d, 2 + (2 if d[1] & 1 else 0))
            if heap != self._undef:
                raw += [(0, m, struct.unpack_from("<I", rec, 9)[0]) for rec, m in self._dense_records(heap, index, 8)]
        out: dict[str, Any] = {}
        if len(raw) > 1:  # h5py lists by name, or by creation order where it is tracked
            raw.sort(key=(lambda a: a[2]) if tracked else (lambda a: _attr_name(a[1])))
        for flags, d, _ in raw:
            if flags & 2:
                raise H5Unsupported("attribute stored in the shared object header message heap")
            name, dt, shape, data = msg.parse_attribute(d, O, L)
            if isinstance(dt, int):
                dt = self._committed(dt)
            out[name] = msg.decode_values(dt, shape, data, self._vlen, O)
        obj.attrs = out
        return out

    def _vlen(self, addr: int, index: int, length: int) -> bytes:
        """Object ``index`` of the global heap collection at ``addr`` (its first ``length`` bytes)."""
        coll = self._gheap.get(addr)
        if coll is None:
            r, L = self._r, self._L
            hd = r.read(addr, 8 + L)
            if hd[:4] != b"GCOL" or hd[4] != 1:
                raise H5Corrupt(f"bad global heap collection at {addr}")
            size = struct.unpack_from("<" + UINT[L], hd, 8)[0]
            data = r.read(addr, size)
            objs, p, fmt = {}, 8 + L, "<HHI" + UINT[L]
            while p + 8 + L <= size:
                idx, _, _, osize = struct.unpack_from(fmt, data, p)
                if idx == 0:
                    break
                objs[idx] = (p + 8 + L, osize)
                p += 8 + L + ((osize + 7) & ~7)
            self._gheap_bytes += size
            if self._gheap_bytes > MAX_BLOCK:  # a bounded cache
                self._gheap.clear()
                self._gheap_bytes = size
            coll = self._gheap[addr] = (data, objs)
        data, objs = coll
        if index not in objs:
            raise H5Corrupt(f"no object {index} in global heap collection {addr}")
        start, osize = objs[index]
        if length > osize or start + osize > len(data):
            raise H5Corrupt("variable-length string overruns its heap object")
        return data[start:start + length]


