"""Opening model files safely: `.keras` zips and HDF5 files, with hard caps.

Nothing here executes anything from the file. Zip members are never extracted
to disk; JSON members are read with a size cap (a zip bomb stops at the cap);
the weights HDF5 inside a `.keras` zip is opened *in place* at its byte offset
when it is stored uncompressed (as Keras writes it), because h5py seeking
backwards through ``ZipFile.open`` re-reads the member from the start (30 s
instead of 0.17 s on NASNetLarge).
"""
from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from typing import Any, BinaryIO

from .errors import BadModelFile

#: Largest JSON member (config.json, metadata.json) we decompress.
MAX_JSON_BYTES = 64 * 1024 * 1024
#: Most members a `.keras` archive may list.
MAX_MEMBERS = 10_000
#: Deepest JSON nesting accepted (real configs are < 50 deep).
MAX_JSON_DEPTH = 200

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sniff(path: str) -> str:
    """'zip', 'hdf5' or 'unknown', from the first bytes (never from the suffix alone)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except IsADirectoryError:
        raise BadModelFile("is a directory, not a model file (a SavedModel directory is not supported; "
                           "save with model.save('model.keras'))", path) from None
    except FileNotFoundError:
        raise BadModelFile("no such file", path) from None
    except PermissionError:
        raise BadModelFile("permission denied", path) from None
    if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
        return "zip"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    # HDF5 files may carry a user block: the signature can sit at 512, 1024, ...
    with open(path, "rb") as f:
        off = 512
        size = os.fstat(f.fileno()).st_size
        while off < min(size, 1 << 20):
            f.seek(off)
            if f.read(8) == HDF5_MAGIC:
                return "hdf5"
            off *= 2
    return "unknown"


def parse_json(data: bytes, what: str, path: str) -> Any:
    """Parse JSON bytes with clear errors for non-UTF-8, invalid and absurdly nested input."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadModelFile(f"{what} is not UTF-8 text (byte {e.start})", path) from None
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise BadModelFile(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels", path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BadModelFile(f"{what} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})", path) from None
    except RecursionError:
        raise BadModelFile(f"{what} is nested too deeply", path) from None


def _nesting_depth(text: str) -> int:
    """Maximum bracket depth outside strings: cheap guard against recursion bombs."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_JSON_DEPTH:
                    return best
        elif ch in "]}":
            depth -= 1
    return best


class KerasArchive:
    """A `.keras` zip opened read-only: config, metadata and the weights HDF5 in place."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._file = open(path, "rb")
            self.zip = zipfile.ZipFile(self._file)
        except zipfile.BadZipFile as e:
            self.close()
            raise BadModelFile(f"not a valid .keras archive: {e} (truncated or corrupt zip?)", path) from None
        except (OSError, ValueError, EOFError) as e:
            self.close()
            raise BadModelFile(f"cannot read zip archive: {e}", path) from None
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            self.close()
            raise BadModelFile(f"archive lists {len(infos)} members (more than {MAX_MEMBERS})", path)
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in self.members:
                self.close()
                raise BadModelFile(f"archive has duplicate member {info.filename!r}", path)
            self.members[info.filename] = info

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
            raise BadModelFile(f"{name} would inflate to {info.file_size} bytes (limit {limit})", self.path)
        try:
            with self.zip.open(info) as f:
                data = f.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise BadModelFile(f"cannot read {name} from the archive: {e}", self.path) from None
        except Exception as e:  # zlib.error and friends on corrupt streams
            raise BadModelFile(f"cannot read {name} from the archive: {e}", self.path) from None
        if len(data) > limit:
            raise BadModelFile(f"{name} inflates past {limit} bytes (zip bomb?)", self.path)
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
            start = info.header_offset + 30 + name_len + extra_len
            end = start + info.compress_size
            if end > os.fstat(self._file.fileno()).st_size:
                raise BadModelFile("model.weights.h5 is truncated", self.path)
            return WindowFile(self._file, start, info.compress_size)
        # Compressed weights (not written by Keras, but possible): stream it
        # into memory only if small; shapes are all we need.
        data = self.read_member("model.weights.h5", limit=512 * 1024 * 1024)
        return io.BytesIO(data)


class WindowFile(io.RawIOBase):
    """Read-only, seekable view of ``size`` bytes of ``f`` starting at ``start``."""

    def __init__(self, f: BinaryIO, start: int, size: int):
        super().__init__()
        self._f, self._start, self._size, self._pos = f, start, size, 0

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
