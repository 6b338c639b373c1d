"""An unzipped Keras 3 save: a folder holding ``config.json``, ``metadata.json`` and
``model.weights.h5`` (``model.save(path, zipped=False)``; the layout Keras uses on the
Hugging Face Hub).

Read with the same caps and checks as a ``.keras`` zip (:class:`~inspector.readers.archive.KerasArchive`,
whose interface this mirrors): only regular files directly in the folder are members, a member
that is a symbolic link is refused (it could point anywhere on the machine), JSON members are
read up to the same size limit, nothing else in the folder (``assets/`` ...) is opened.
"""
from __future__ import annotations

import os
import stat
from typing import Any, BinaryIO

from inspector.errors import BadModelFile, TooLarge, UnsafeModel, quote
from inspector.readers.archive import KNOWN_MEMBERS, MAX_JSON_BYTES, parse_json

#: Members a folder save may have that the reader looks at (the rest are ignored); a keras-hub
#: preset adds the task, its preprocessor and tokenizer (shards and assets are added by name).
_LOOKED_AT = (*KNOWN_MEMBERS, "model.weights.json", "model.weights.npz",
              "task.json", "task.weights.h5", "preprocessor.json", "tokenizer.json")


def is_keras_dir(path: str) -> bool:
    """True for a folder with a ``config.json`` entry (whatever that entry turns out to be)."""
    return os.path.lexists(os.path.join(path, "config.json"))


class KerasDirectory:
    """A Keras folder save opened read-only; ``members`` maps member names to their lstat."""

    def __init__(self, path: str, looked_at: tuple[str, ...] = _LOOKED_AT):
        self.path = path
        self._files: list[BinaryIO] = []
        self.members: dict[str, os.stat_result] = {}
        for name in looked_at:
            self.add_member(name, missing_ok=True)

    def add_member(self, name: str, missing_ok: bool = False) -> bool:
        """Make ``name`` (relative, ``/``-separated, already checked to stay in the folder) a
        member: refused when it, or a folder on the way, is a symbolic link or not a regular
        file. False when it does not exist and ``missing_ok``."""
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            full = os.path.join(self.path, *parts[:i])
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                if missing_ok:
                    return False
                raise BadModelFile(f"{rel} is missing", self.path) from None
            except OSError as e:
                raise BadModelFile(f"cannot read {rel}: {e.strerror or e}", self.path) from None
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeModel(f"{rel} is a symbolic link ({quote(os.readlink(full))}) — refusing "
                                  "(it could point anywhere on this machine)", self.path)
            if i < len(parts) and not stat.S_ISDIR(st.st_mode):
                raise BadModelFile(f"{rel} is not a folder", self.path)
        if not stat.S_ISREG(st.st_mode):
            raise BadModelFile(f"{name} is not a regular file", self.path)
        self.members[name] = st
        return True

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()

    def __enter__(self) -> "KerasDirectory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, name: str) -> BinaryIO:
        """Open a member without following a link swapped in since it was listed."""
        try:
            fd = os.open(os.path.join(self.path, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as e:
            raise BadModelFile(f"cannot open {name}: {e.strerror or e}", self.path) from None
        f = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            f.close()
            raise BadModelFile(f"{name} is not a regular file", self.path)
        return f

    def read_member(self, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
        if name not in self.members:
            raise BadModelFile(f"folder has no {name}", self.path)
        with self._open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(f"{name} is larger than {limit} bytes", self.path)
        return data

    def read_json(self, name: str) -> Any:
        return parse_json(self.read_member(name), name, self.path)

    def open_weights(self, name: str = "model.weights.h5") -> BinaryIO | None:
        """A weights member (``model.weights.h5``, a shard) opened for reading (closed with the
        folder), or None when it is not a member."""
        if name not in self.members:
            return None
        f = self._open(name)
        self._files.append(f)
        return f
