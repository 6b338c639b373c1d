"""Dense storage of links and attributes (groups with many members): a v2 B-tree name index
whose records point into a fractal heap. Read-only, bounds-checked, loop-checked."""
from __future__ import annotations

import struct
from typing import Any

from inspector.readers.hdf5.messages import UINT, H5Corrupt, H5Unsupported


def _enc_size(n: int) -> int:
    """Bytes HDF5 uses to encode numbers up to ``n`` (H5VM_limit_enc_size)."""
    return (max(n.bit_length(), 1) - 1) // 8 + 1


def dense_records(r: Any, O: int, L: int, heap: int, index: int, rtype: int,
                  max_nodes: int = 1_000_000) -> list[tuple[bytes, bytes]]:
    """Every (B-tree record, message) of a dense storage (links: ``rtype`` 5, attributes: 8):
    walk the v2 B-tree name index at ``index``; each record names an object in the fractal heap
    at ``heap``."""
    records = btree_records(r, O, L, index, rtype, max_nodes)
    if not records:
        return []
    fh = FractalHeap(r, O, L, heap)
    out = []
    for rec in records:
        hid = rec[4:4 + fh.id_len] if rtype == 5 else rec[:8]
        if rtype == 8 and rec[8] & 2:
            raise H5Unsupported("attribute stored in the shared object header message heap")
        out.append((rec, fh.object(hid)))
    return out


def btree_records(r: Any, O: int, L: int, index: int, rtype: int, max_nodes: int) -> list[bytes]:
    """The records of the v2 B-tree at ``index`` (record type ``rtype``), depth first."""
    uo = "<" + UINT[O]
    hd = r.read(index, 16 + O + 2 + L)
    if hd[:5] != b"BTHD\0" or hd[5] != rtype:
        raise H5Corrupt(f"bad v2 B-tree header at {index}")
    node_size, rsize, depth = struct.unpack_from("<IHH", hd, 6)
    root, nroot = struct.unpack_from(uo + "H", hd, 16)
    if depth > 16 or rsize == 0 or node_size < 10 + rsize:
        raise H5Corrupt("bad v2 B-tree shape")
    # sizes of the child-pointer fields of internal nodes (H5B2__hdr_init)
    max_rec = [(node_size - 10) // rsize]
    cum, cum_size = [max_rec[0]], [0]
    nrec_size = _enc_size(max_rec[0])
    for u in range(1, depth + 1):
        ptr = O + nrec_size + (cum_size[u - 1] if u > 1 else 0)
        max_rec.append((node_size - 10 - ptr) // (rsize + ptr))
        cum.append((max_rec[u] + 1) * cum[u - 1] + max_rec[u])
        cum_size.append(_enc_size(cum[u]))
    records: list[bytes] = []
    stack, seen = [(root, nroot, depth)], set()
    while stack:
        addr, n, level = stack.pop()
        if addr in seen or len(seen) > max_nodes:
            raise H5Corrupt("loop in a v2 B-tree") if addr in seen else H5Unsupported("v2 B-tree too large")
        seen.add(addr)
        if n > max_rec[level]:
            raise H5Corrupt("v2 B-tree node holds too many records")
        body = r.read(addr, node_size)
        if body[:4] != (b"BTIN" if level else b"BTLF") or body[5] != rtype:
            raise H5Corrupt(f"bad v2 B-tree node at {addr}")
        records += [body[6 + i * rsize:6 + (i + 1) * rsize] for i in range(n)]
        if level:
            p, ptr_cnt = 6 + n * rsize, cum_size[level - 1] if level > 1 else 0
            for _ in range(n + 1):
                child = struct.unpack_from(uo, body, p)[0]
                count = int.from_bytes(body[p + O:p + O + nrec_size], "little")
                p += O + nrec_size + ptr_cnt
                stack.append((child, count, level - 1))
    return records


class FractalHeap:
    """A fractal heap's header and doubling table; :meth:`object` reads one managed object."""

    def __init__(self, r: Any, O: int, L: int, heap: int):
        self.r, self.O, self.uo = r, O, "<" + UINT[O]
        fh = r.read(heap, 22 + 12 * L + 3 * O)
        if fh[:5] != b"FRHP\0":
            raise H5Corrupt(f"bad fractal heap header at {heap}")
        self.id_len, filters, _, max_man = struct.unpack_from("<HHBI", fh, 5)
        if filters:
            raise H5Unsupported("filtered fractal heap")
        p = 14 + 10 * L + 2 * O  # past the statistics fields
        width = struct.unpack_from("<H", fh, p)[0]
        start, max_direct = struct.unpack_from("<2" + UINT[L], fh, p + 2)
        max_bits, _ = struct.unpack_from("<HH", fh, p + 2 + 2 * L)
        self.root_blk = struct.unpack_from(self.uo, fh, p + 6 + 2 * L)[0]
        self.root_rows = struct.unpack_from("<H", fh, p + 6 + 2 * L + O)[0]
        if (width & (width - 1) or start & (start - 1) or max_direct & (max_direct - 1) or not width
                or not start or max_direct < start or not 0 < max_bits <= 64 or self.root_rows > 64):
            raise H5Corrupt("bad fractal heap doubling table")
        self.width, self.start = width, start
        self.off_size = (max_bits + 7) // 8
        self.len_size = min((max_direct.bit_length() - 1 + 7) // 8, _enc_size(max_man))
        self.direct_rows = (max_direct.bit_length() - start.bit_length()) + 2
        self.first_row_bits = start.bit_length() - 1 + width.bit_length() - 1

    def _row_size(self, row: int) -> int:
        return self.start if row < 2 else self.start << (row - 1)

    def _locate(self, off: int) -> tuple[int, int, int]:
        """(direct block address, its heap offset, its size) holding heap offset ``off``."""
        if self.root_rows == 0:
            return self.root_blk, 0, self.start
        O, width = self.O, self.width
        addr, rows, base = self.root_blk, self.root_rows, 0
        for _ in range(16):
            ib = self.r.read(addr, 5 + O + self.off_size + rows * width * O)
            if ib[:5] != b"FHIB\0":
                raise H5Corrupt(f"bad fractal heap indirect block at {addr}")
            boff = base
            for row in range(rows):
                size = self._row_size(row)
                if off < boff + width * size:
                    col = (off - boff) // size
                    child = struct.unpack_from(self.uo, ib, 5 + O + self.off_size + (row * width + col) * O)[0]
                    boff += col * size
                    if row < self.direct_rows:
                        return child, boff, size
                    addr, rows, base = child, (size.bit_length() - 1 - self.first_row_bits) + 1, boff
                    break
                boff += width * size
            else:
                raise H5Corrupt("fractal heap offset outside the heap")
        raise H5Corrupt("fractal heap too deep")

    def object(self, hid: bytes) -> bytes:
        """The bytes of the object with heap ID ``hid`` (tiny objects live in the ID itself)."""
        kind = hid[0] >> 4
        if kind == 2 and self.id_len <= 18:
            return hid[1:2 + (hid[0] & 15)]
        if kind != 0:
            raise H5Unsupported("huge object in a fractal heap")
        off = int.from_bytes(hid[1:1 + self.off_size], "little")
        length = int.from_bytes(hid[1 + self.off_size:1 + self.off_size + self.len_size], "little")
        blk, boff, bsize = self._locate(off)
        if off - boff + length > bsize or self.r.read(blk, 5) != b"FHDB\0":
            raise H5Corrupt("bad fractal heap direct block or object")
        return self.r.read(blk + off - boff, length)
