"""Opening model files safely: `.keras` zips and HDF5 files, with hard caps.

Nothing here executes anything from the file. Zip members are never extracted
to disk (and an archive naming a member outside its root -- ``../x``, ``/etc/x``,
``C:\\x`` -- or holding a symlink is refused outright); JSON members are read
with a size cap (a zip bomb stops at the cap) and a cap on how many values
they may hold; the weights HDF5 inside a `.keras` zip is opened *in place* at
its byte offset when it is stored uncompressed (as Keras writes it), because
h5py seeking backwards through ``ZipFile.open`` re-reads the member from the
start (30 s instead of 0.17 s on NASNetLarge).
"""
from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import zipfile
from typing import Any, BinaryIO

from inspector.errors import BadModelFile, TooLarge, UnsafeModel, quote
from inspector.readers.limits import (
    MAX_CENTRAL_DIRECTORY,
    MAX_COMPRESSED_WEIGHTS,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    MAX_MEMBERS,
)

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"

#: Members the static reader reads.
KNOWN_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")


def parse_json(data: bytes, what: str, path: str) -> Any:
    """Parse JSON bytes with clear errors for non-UTF-8, invalid, absurdly nested or huge input."""
    if len(data) > MAX_JSON_BYTES:
        raise TooLarge(f"{what} is {len(data)} bytes (limit {MAX_JSON_BYTES})", path)
    # Every value but the first follows a ',' or an opening bracket: an upper bound on
    # the number of values, computed at C speed before json.loads allocates them.
    values = data.count(b",") + data.count(b"[") + data.count(b"{") + 1
    if values > MAX_JSON_VALUES:
        raise TooLarge(f"{what} holds about {values:,} values (limit {MAX_JSON_VALUES:,})", path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadModelFile(f"{what} is not UTF-8 text (byte {e.start})", path) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadModelFile(f"{what} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})", path) from None
    except RecursionError:
        raise TooLarge(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels", path) from None
    depth = json_depth(obj, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise TooLarge(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels", path)
    return obj


def json_depth(obj: Any, stop: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (iterative; stops counting past ``stop``)."""
    best = 0
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > best:
            best = d
            if best > stop:
                return best
        if type(o) is dict:
            items = o.values()
        elif type(o) is list:
            items = o
        else:
            continue
        d += 1
        for v in items:
            if type(v) is dict or type(v) is list:
                stack.append((v, d))
    return best


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_member_name(name: str) -> str | None:
    """Why a zip member name would land outside an extraction root (None if it would not)."""
    if not name:
        return "an empty name"
    if not name.isprintable():
        return "control characters in its name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "an absolute path"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return "a '..' path component"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


class KerasArchive:
    """A `.keras` zip opened read-only: config, metadata and the weights HDF5 in place."""

    def __init__(self, path: str):
        self.path = path
        self.zip = None
        try:
            self._file = open(path, "rb")
        except OSError as e:
            raise BadModelFile(f"cannot open: {e.strerror or e}", path) from None
        try:
            self._precheck()
            self.zip = zipfile.ZipFile(self._file)
            infos = self.zip.infolist()
        except BadModelFile:
            self.close()
            raise
        except zipfile.BadZipFile as e:
            self.close()
            raise BadModelFile(f"not a valid .keras archive: {e} (truncated or corrupt zip?)", path) from None
        except MemoryError:
            self.close()
            raise
        except Exception as e:  # zipfile parsing hostile bytes: struct.error, ValueError, OverflowError...
            self.close()
            raise BadModelFile(f"not a valid .keras archive: cannot parse its directory ({type(e).__name__})",
                               path) from None
        try:
            self._check_members(infos)
        except Exception:
            self.close()
            raise

    def _precheck(self) -> None:
        """Read the end-of-central-directory record before zipfile parses the directory,
        so an archive claiming millions of members is refused without allocating them."""
        endrec = zipfile._EndRecData(self._file)  # noqa: SLF001 (stable since Python 2)
        if not endrec:
            raise BadModelFile("not a valid .keras archive: no zip end-of-directory record "
                               "(truncated or corrupt zip?)", self.path)
        entries, cd_size = endrec[zipfile._ECD_ENTRIES_TOTAL], endrec[zipfile._ECD_SIZE]
        if entries > MAX_MEMBERS:
            raise TooLarge(f"archive lists {entries} members (more than {MAX_MEMBERS})", self.path)
        if cd_size > MAX_CENTRAL_DIRECTORY:
            raise TooLarge(f"archive directory is {cd_size} bytes (limit {MAX_CENTRAL_DIRECTORY})", self.path)
        self._file.seek(0)

    def _check_members(self, infos: list[zipfile.ZipInfo]) -> None:
        path = self.path
        if len(infos) > MAX_MEMBERS:
            raise TooLarge(f"archive lists {len(infos)} members (more than {MAX_MEMBERS})", path)
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            for name in {info.filename, info.orig_filename}:
                why = unsafe_member_name(name)
                if why:
                    raise UnsafeModel(f"archive member {quote(name)} has {why}; such an archive could write "
                                      "outside its folder when extracted — refusing (nothing was extracted)",
                                      path)
            if _is_symlink(info):
                raise UnsafeModel(f"archive member {quote(info.filename)} is a symbolic link — refusing "
                                  "(nothing was extracted)", path)
            if info.filename in self.members:
                raise BadModelFile(f"archive has duplicate member {quote(info.filename)} "
                                   "(which copy a reader uses is ambiguous)", path)
            self.members[info.filename] = info
        for name in KNOWN_MEMBERS:
            info = self.members.get(name)
            if info is not None and info.flag_bits & 0x1:
                raise BadModelFile(f"{name} is encrypted (Keras never encrypts it)", path)

    def close(self) -> None:
        for attr in ("zip", "_file"):
            obj = getattr(self, attr, None)
            if obj is not None:
                obj.close()

    def __enter__(self) -> "KerasArchive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_member(self, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
        """Decompress one member, refusing to inflate more than ``limit`` bytes."""
        info = self.members.get(name)
        if info is None:
            raise BadModelFile(f"archive has no {name}", self.path)
        if info.file_size > limit:
            raise TooLarge(f"{name} would inflate to {info.file_size} bytes (limit {limit}; zip bomb?)",
                           self.path)
        try:
            with self.zip.open(info) as f:
                # small reads: ZipExtFile inflates up to the requested size in one go,
                # even when the header says the member is tiny
                chunks, size = [], 0
                while size <= limit:
                    chunk = f.read(min(1 << 20, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                data = b"".join(chunks)
        except MemoryError:
            raise
        except Exception as e:  # BadZipFile, zlib.error, EOFError, NotImplementedError on corrupt streams
            raise BadModelFile(f"cannot read {name} from the archive: {e} (truncated or corrupt zip?)",
                               self.path) from None
        if len(data) > limit:
            raise TooLarge(f"{name} inflates past {limit} bytes (zip bomb?)", self.path)
        return data

    def read_json(self, name: str) -> Any:
        return parse_json(self.read_member(name), name, self.path)

    def open_weights(self) -> BinaryIO | None:
        """A seekable binary stream over ``model.weights.h5`` without extracting it, or None."""
        info = self.members.get("model.weights.h5")
        if info is None:
            return None
        if info.compress_type == zipfile.ZIP_STORED:
            self._file.seek(info.header_offset)
            header = self._file.read(30)
            if len(header) != 30 or header[:4] != ZIP_MAGIC:
                raise BadModelFile("model.weights.h5 has a corrupt zip header", self.path)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            raw_name = self._file.read(name_len)
            if raw_name.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace") != info.orig_filename:
                raise BadModelFile("model.weights.h5's zip header names another file (corrupt archive)",
                                   self.path)
            start = info.header_offset + 30 + name_len + extra_len
            end = start + info.compress_size
            if info.compress_size != info.file_size:
                raise BadModelFile("model.weights.h5 is stored with inconsistent sizes (corrupt archive)",
                                   self.path)
            if end > os.fstat(self._file.fileno()).st_size:
                raise BadModelFile("model.weights.h5 is truncated", self.path)
            return WindowFile(self._file, start, info.compress_size)
        # Compressed weights (not written by Keras, but possible): inflate into memory,
        # only up to a cap; shapes are all we need.
        data = self.read_member("model.weights.h5", limit=MAX_COMPRESSED_WEIGHTS)
        return io.BytesIO(data)


class WindowFile(io.RawIOBase):
    """Read-only, seekable view of ``size`` bytes of ``f`` starting at ``start``."""

    def __init__(self, f: BinaryIO, start: int, size: int):
        super().__init__()
        self._f, self._start, self._size, self._pos = f, start, size, 0

    def region(self) -> tuple[BinaryIO, int, int]:
        """(underlying file, start, size): readers that take a byte range use it directly."""
        return self._f, self._start, self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._size - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)
