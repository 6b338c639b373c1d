"""What kind of model file a path is, from its first bytes (never from the suffix alone)."""
from __future__ import annotations

import os
import stat

from inspector.errors import BadModelFile
from inspector.readers.archive import EMPTY_ZIP_MAGIC, ZIP_MAGIC
from inspector.readers.folder import is_keras_dir

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sniff(path: str) -> str:
    """'zip', 'hdf5', 'dir' (an unzipped Keras save), 'json' (a sharded-weights index) or
    'unknown', from the first bytes (never from the suffix alone)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadModelFile("no such file", path) from None
    except PermissionError:
        raise BadModelFile("permission denied", path) from None
    except OSError as e:
        raise BadModelFile(f"cannot open: {e.strerror or e}", path) from None
    if stat.S_ISDIR(st.st_mode):
        if is_keras_dir(path):
            return "dir"
        raise BadModelFile("is a directory without a config.json, not a Keras model (a SavedModel directory "
                           "is not supported; save with model.save('model.keras'))", path)
    if not stat.S_ISREG(st.st_mode):
        # a FIFO would block forever, /dev/zero never ends: only regular files are read
        raise BadModelFile("is not a regular file (device, pipe or socket); give a .keras or .h5 file", path)
    if st.st_size == 0:
        raise BadModelFile("is empty (0 bytes): not a Keras model file", path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
                return "zip"
            if head.startswith(HDF5_MAGIC):
                return "hdf5"
            if head.lstrip().startswith(b"{"):
                return "json"
            # HDF5 files may carry a user block: the signature can sit at 512, 1024, ...
            off = 512
            while off < min(st.st_size, 1 << 20):
                f.seek(off)
                if f.read(8) == HDF5_MAGIC:
                    return "hdf5"
                off *= 2
    except PermissionError:
        raise BadModelFile("permission denied", path) from None
    except OSError as e:
        raise BadModelFile(f"cannot read: {e.strerror or e}", path) from None
    return "unknown"
