"""Regenerate the README's tour outputs and the diagrams in ``docs/gallery/``.

Every fenced ```` ```console ```` block of README.md whose first line is
``$ inspector ...`` is a *step*: a command a reader can paste at the repository
root (after ``make samples``). This script runs every step, in README order, with
the installed ``inspector`` in a scratch directory whose ``samples/build/`` holds
freshly built sample models, then

* writes the command's real output (stdout, then stderr) back into its block;
* copies each diagram the command wrote (``-o NAME.svg``) to ``docs/gallery/NAME.svg``,
  which the README shows right below the block.

So neither the outputs in the README nor the gallery's SVGs are edited by hand;
``tests/cli/test_readme_tour.py`` runs the same commands and fails when they drift.

A step that is *meant* to fail says so in an HTML comment on the line above its
block, ``<!-- tour: exit 2 -->``; any other non-zero exit stops the script
before anything is written.

Usage::

    .venv/bin/python -m samples.gallery                        # rebuild samples in a temp dir, rewrite
    .venv/bin/python -m samples.gallery --samples samples/build  # reuse models built by `make samples`
    .venv/bin/python -m samples.gallery --check                # exit 1 if README/gallery are stale
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GALLERY = ROOT / "docs" / "gallery"
GALLERY_REL = "docs/gallery"

_FENCE_OPEN = re.compile(r"^```console\s*$")
_FENCE_CLOSE = re.compile(r"^```\s*$")
_EXIT_MARK = re.compile(r"^<!--\s*tour:\s*exit\s+(\d+)\s*-->\s*$")


# --------------------------------------------------------------------------- README steps
@dataclass
class Step:
    """One ``$ inspector ...`` console block of the README."""

    index: int                 # 0-based, README order
    line: int                  # 1-based README line of the ``$ inspector`` line
    command_lines: list[str]   # as written (``$ `` prefix, ``\\`` continuations)
    output: list[str]          # the output the README shows
    exit_code: int = 0         # documented exit code (``<!-- tour: exit N -->``)
    body: tuple[int, int] = (0, 0)  # README line slice [start, end) of the block's content
    svgs: list[str] = field(default_factory=list)  # ``-o`` files ending in .svg

    @property
    def command(self) -> str:
        text = "\n".join(self.command_lines)
        return re.sub(r"\\\n\s*", "", text)[2:].strip()

    @property
    def argv(self) -> list[str]:
        """Arguments after ``inspector``."""
        words = shlex.split(self.command)
        assert words[0] == "inspector", self.command
        return words[1:]

    @property
    def gallery_files(self) -> list[str]:
        """README-relative paths of the checked-in copies of this step's diagrams."""
        return [f"{GALLERY_REL}/{os.path.basename(s)}" for s in self.svgs]

    def short(self) -> str:
        return self.command if len(self.command) <= 90 else self.command[:87] + "..."


def parse_steps(readme: str) -> list[Step]:
    """Every ```console block that starts with ``$ inspector``, in README order."""
    lines = readme.split("\n")
    steps: list[Step] = []
    i = 0
    while i < len(lines):
        if not _FENCE_OPEN.match(lines[i]):
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and not _FENCE_CLOSE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"README line {i + 1}: unclosed ```console block")
        body = lines[start:end]
        if body and body[0].startswith("$ inspector"):
            n = 1
            while body[n - 1].rstrip().endswith("\\") and n < len(body):
                n += 1
            mark = _EXIT_MARK.match(lines[i - 1]) if i > 0 else None
            step = Step(index=len(steps), line=start + 1, command_lines=body[:n], output=body[n:],
                        exit_code=int(mark.group(1)) if mark else 0, body=(start, end))
            words = step.argv
            for k, w in enumerate(words[:-1]):
                if w in ("-o", "--output") and words[k + 1].endswith(".svg"):
                    step.svgs.append(words[k + 1])
            steps.append(step)
        i = end + 1
    return steps


# --------------------------------------------------------------------------- comparing outputs
def material_lines(text: str | list[str]) -> list[str]:
    """The lines of an output that must match, normalised.

    Blank lines and table rules are dropped, runs of spaces collapsed (column
    widths follow the content), the Keras version that saved a file and source
    line numbers (``file.py:270``) are masked. Everything else -- layer rows,
    shapes, parameter totals, diff lines, ``wrote`` and ``error`` lines -- counts.
    """
    if isinstance(text, list):
        text = "\n".join(text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or re.fullmatch(r"[-\s]+", line):
            continue
        line = re.sub(r"Saved with Keras \S+", "Saved with Keras <version>", line)
        line = re.sub(r"(\.py):\d+", r"\1:<line>", line)
        out.append(re.sub(r"\s+", " ", line))
    return out


def svg_titles(path: str | Path) -> list[str]:
    """Sorted ``<title>`` texts of a Graphviz SVG's nodes and edges (graph and cluster titles left out)."""
    tree = ET.parse(path)
    titles = []
    for g in tree.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") in ("node", "edge"):
            t = g.find("{http://www.w3.org/2000/svg}title")
            if t is not None and t.text:
                titles.append(t.text)
    return sorted(titles)


def user_stderr(stderr: str) -> list[str]:
    """stderr without TensorFlow's C++ start-up chatter."""
    return [line.rstrip() for line in stderr.splitlines()
            if line.strip() and not line.startswith("WARNING: All log messages before absl")
            and not re.match(r"^[IWEF]\d{4} ", line) and "rebuild TensorFlow with the appropriate" not in line]


def combined_output(stdout: str, stderr: str) -> list[str]:
    """What a reader's terminal shows: stdout, then the user-facing stderr lines."""
    out = [line.rstrip() for line in stdout.rstrip("\n").splitlines()] if stdout.strip() else []
    return out + user_stderr(stderr)


# --------------------------------------------------------------------------- running
def make_workdir(samples_build: Path, where: Path | None = None) -> Path:
    """A scratch directory laid out like the repository root for the tour's commands.

    ``samples/build`` points at ``samples_build`` and ``samples/seed_models.py`` at
    the real file, so the README's relative paths work unchanged and outputs the
    commands write (``-o ...``) land in the scratch directory, not the checkout.
    """
    work = Path(tempfile.mkdtemp(prefix="inspector-tour-", dir=where))
    (work / "samples").mkdir()
    (work / "samples" / "build").symlink_to(Path(samples_build).resolve(), target_is_directory=True)
    for name in ("__init__.py", "seed_models.py"):
        (work / "samples" / name).symlink_to(ROOT / "samples" / name)
    return work


def _inspector_command() -> list[str]:
    exe = Path(sys.executable).with_name("inspector")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "inspector"]


def run_step(step: Step, work: Path) -> tuple[int, list[str]]:
    """Run a step as a reader would (a fresh ``inspector`` process); exit code and output lines."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="100")
    env.pop("INSPECTOR_DEBUG", None)
    p = subprocess.run(_inspector_command() + step.argv, cwd=work, env=env, capture_output=True,
                       text=True, timeout=900)
    return p.returncode, combined_output(p.stdout, p.stderr)


def build_samples(out: Path) -> None:
    """``python -m samples.build --out OUT`` (quietly, unless it fails)."""
    p = subprocess.run([sys.executable, "-m", "samples.build", "--out", str(out)], cwd=ROOT, text=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True)
    if p.returncode:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"building the sample models failed (exit {p.returncode})")


def regenerate(samples_build: Path, check: bool = False) -> int:
    readme = README.read_text(encoding="utf-8")
    steps = parse_steps(readme)
    lines = readme.split("\n")
    scratch = Path(tempfile.mkdtemp(prefix="inspector-gallery-"))
    problems: list[str] = []
    stale: list[str] = []
    try:
        work = make_workdir(samples_build, scratch)
        new_bodies: dict[int, list[str]] = {}
        svgs: dict[str, Path] = {}
        for step in steps:
            print(f"[{step.index + 1}/{len(steps)}] {step.short()}", file=sys.stderr)
            code, output = run_step(step, work)
            if code != step.exit_code:
                problems.append(f"README line {step.line}: `{step.short()}` exited {code}, README documents "
                                f"{step.exit_code}:\n    " + "\n    ".join(output[-5:]))
                continue
            new_bodies[step.index] = step.command_lines + output
            if material_lines(output) != material_lines(step.output):
                stale.append(f"output of README line {step.line} (`{step.short()}`)")
            for svg, rel in zip(step.svgs, step.gallery_files):
                produced = work / svg
                if not produced.is_file():
                    problems.append(f"README line {step.line}: `{step.short()}` wrote no {svg}")
                    continue
                text = produced.read_text(encoding="utf-8")
                if str(scratch) in text or str(ROOT) in text:
                    problems.append(f"{svg} contains an absolute path of this machine")
                if f"]({rel})" not in readme and f'src="{rel}"' not in readme:
                    problems.append(f"README does not show {rel} (add ![...]({rel}) below line {step.line})")
                if rel in svgs:
                    problems.append(f"README line {step.line}: another step also writes {os.path.basename(svg)}")
                svgs[rel] = produced
                old = ROOT / rel
                if not old.exists() or svg_titles(old) != svg_titles(produced):
                    stale.append(rel)
        if problems:
            print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
            return 2
        unused = sorted(f"{GALLERY_REL}/{p.name}" for p in GALLERY.glob("*.svg")
                        if f"{GALLERY_REL}/{p.name}" not in svgs) if GALLERY.is_dir() else []
        if check:
            for s in stale:
                print(f"stale: {s}", file=sys.stderr)
            for u in unused:
                print(f"not produced by any README step: {u}", file=sys.stderr)
            return 1 if stale or unused else 0
        for step in reversed(steps):  # bottom-up, so earlier line numbers stay valid
            start, end = step.body
            lines[start:end] = new_bodies[step.index]
        README.write_text("\n".join(lines), encoding="utf-8")
        GALLERY.mkdir(parents=True, exist_ok=True)
        for rel, produced in svgs.items():
            shutil.copyfile(produced, ROOT / rel)
        for u in unused:
            print(f"note: {u} is not produced by any README step (delete it?)", file=sys.stderr)
        print(f"README.md: {len(steps)} steps regenerated; {GALLERY_REL}/: {len(svgs)} diagrams", file=sys.stderr)
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, metavar="DIR",
                        help="use the sample models already built in DIR (default: build them afresh)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when README outputs or gallery diagrams are stale")
    args = parser.parse_args(argv)
    if args.samples is not None:
        return regenerate(args.samples, check=args.check)
    with tempfile.TemporaryDirectory(prefix="inspector-samples-") as tmp:
        print("building the sample models", file=sys.stderr)
        build_samples(Path(tmp))
        return regenerate(Path(tmp), check=args.check)


if __name__ == "__main__":
    sys.exit(main())
