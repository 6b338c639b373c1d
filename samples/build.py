"""Save every model in ``samples.seed_models.SAMPLES`` as ``<out>/<name>.keras``.

Also writes ``<out>/tickets.npz``: the chapter's random customer-ticket inputs
(``title``, ``text_body``, ``tags``; 1,280 rows of 0/1 as uint8), data for
``inspector features`` in ``make demo``.

Usage::

    python -m samples.build [--out DIR] [NAME ...]

Default output directory is ``samples/build/`` (next to this file).  Each model
is written to a temporary file inside DIR and moved into place with
``os.replace``, so a failed build never leaves a partial ``.keras`` file.
Builds are deterministic (fixed seeds, Keras session cleared before each
model so auto-generated names are stable) and need no network access.
Note: a ``.keras`` zip also stores a save timestamp, so files are not
byte-identical across runs; their config and weights are.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402

from inspector.atomic import atomic_path  # noqa: E402
from samples.seed_models import SAMPLES  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "build"


def write_ticket_data(out_dir: Path, num_samples: int = 1280, seed: int = 0) -> Path:
    """The chapter's ``title_data`` / ``text_body_data`` / ``tags_data`` (random 0/1 arrays),
    as ``tickets.npz`` with arrays named after the model inputs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = {name: rng.integers(0, 2, size=(num_samples, width), dtype=np.uint8)
              for name, width in (("title", 10000), ("text_body", 10000), ("tags", 100))}
    target = out_dir / "tickets.npz"
    with atomic_path(str(target)) as tmp:
        np.savez(tmp, **arrays)
    return target


def build_one(name: str, out_dir: Path) -> Path:
    """Build sample ``name`` and atomically write ``out_dir/<name>.keras``."""
    keras.backend.clear_session()
    model = SAMPLES[name]()
    target = out_dir / f"{name}.keras"
    with atomic_path(str(target)) as tmp:
        model.save(tmp)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"samples to build (default: all): {', '.join(SAMPLES)}")
    args = parser.parse_args(argv)

    unknown = [n for n in args.names if n not in SAMPLES]
    if unknown:
        parser.error(f"unknown sample(s): {', '.join(unknown)}")
    names = args.names or list(SAMPLES)

    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in names:
        try:
            path = build_one(name, out_dir)
        except Exception as exc:  # report and keep going
            failures += 1
            print(f"FAILED {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        print(f"{path} ({path.stat().st_size} bytes)")
    if not args.names:
        path = write_ticket_data(out_dir)
        print(f"{path} ({path.stat().st_size} bytes)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
