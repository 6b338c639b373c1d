"""README's "Tour of the seed chapter" and "Gallery": every `$ inspector ...` command works as shown.

Each ```console block of README.md that starts with ``$ inspector`` is run, in README
order (later commands use files earlier ones wrote), against freshly built samples
(the ``sample_dir`` fixture): in a scratch directory whose ``samples/build/`` is the
fixture's directory, so the README's paths are used verbatim. Commands run in-process
through click's test runner (TensorFlow is imported once, not once per command).

Checked per step: the exit code (0, or the one documented by ``<!-- tour: exit N -->``),
the output's material lines (layer rows, shapes, parameter totals, diff/wrote/error
lines; see ``samples.gallery.material_lines``), and for diagrams: the SVG was written, the
README shows its checked-in copy in ``docs/gallery/``, and both have the same boxes and
edges. When an output changes on purpose, refresh README and gallery with
``.venv/bin/python -m samples.gallery``.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from samples import gallery

ROOT = Path(__file__).resolve().parents[2]
README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
STEPS = gallery.parse_steps(README_TEXT)
REFRESH = "if the change is intended, run `.venv/bin/python -m samples.gallery`"


def _section(title: str) -> str:
    m = re.search(rf"^(#+) {re.escape(title)}\s*$", README_TEXT, re.M)
    assert m, f"README has no section {title!r}"
    level = len(m.group(1))
    end = re.search(rf"^#{{1,{level}}} ", README_TEXT[m.end():], re.M)
    return README_TEXT[m.end(): m.end() + end.start() if end else len(README_TEXT)]


def _run_in_process(argv: list[str]) -> tuple[int, list[str]]:
    """``inspector ARGV`` through click's runner: exit code and stdout + stderr lines."""
    import keras
    from click.testing import CliRunner

    from inspector.cli import app as cli

    keras.backend.clear_session()  # auto-generated layer names as in a fresh process
    saved_path = list(sys.path)
    try:
        result = CliRunner().invoke(cli.main, argv, prog_name="inspector")
    finally:
        sys.path[:] = saved_path
    output = gallery.combined_output(result.stdout, result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        output += traceback.format_exception(result.exception)
    return result.exit_code, output


@pytest.fixture(scope="module")
def tour(sample_dir, tmp_path_factory):
    """Run every README step once, in order; (scratch dir, {step index: (exit code, output)})."""
    build = Path(next(iter(sample_dir.values()))[1]).parent
    work = gallery.make_workdir(build, tmp_path_factory.mktemp("tour"))
    old_cwd = os.getcwd()
    os.chdir(work)
    try:
        results = {step.index: _run_in_process(step.argv) for step in STEPS}
    finally:
        os.chdir(old_cwd)
    return work, results


def test_tour_covers_the_chapter():
    """The tour has the chapter's models, in the chapter's order."""
    tour_steps = [s.command for s in gallery.parse_steps(_section("Tour of the seed chapter"))]
    wanted = [
        "summary samples/build/sequential_model.keras",
        "summary samples/build/functional_simple.keras",
        "render samples/build/customer_ticket_model.keras -o ticket_classifier.svg --no-shapes",
        "render samples/build/customer_ticket_model.keras -o ticket_classifier_with_shape_info.svg",
        "summary samples/build/customer_ticket_with_difficulty.keras",
        "diff samples/build/customer_ticket_model.keras samples/build/customer_ticket_with_difficulty.keras",
        "extract samples/build/customer_ticket_model.keras --layer 4",
        "summary samples/seed_models.py:broken_customer_ticket_subclassed",
        "summary samples/seed_models.py:functional_with_subclassed_classifier",
        "summary samples/seed_models.py:my_model",
    ]
    positions = []
    for w in wanted:
        hits = [i for i, c in enumerate(tour_steps) if w in c]
        assert hits, f"the tour has no step running `inspector {w} ...`"
        positions.append(hits[0])
    assert positions == sorted(positions), "tour steps are not in the chapter's order"
    broken = next(s for s in STEPS if "broken_customer_ticket_subclassed" in s.command)
    assert broken.exit_code == 2
    assert "--input title=10000 --input text_body=10000 --input tags=100" in broken.command
    assert len(gallery.parse_steps(_section("Gallery"))) >= 5


def test_readme_starts_with_the_setup_commands():
    assert README_TEXT.startswith("# Keras Graph Inspector\n\n```sh\nmake demo")
    assert README_TEXT.split("\n")[4].startswith("make test")


@pytest.mark.parametrize("step", STEPS, ids=[f"L{s.line}-{s.argv[0]}" for s in STEPS])
def test_step_output(tour, step):
    work, results = tour
    code, output = results[step.index]
    shown = "\n".join(output[-8:])
    assert code == step.exit_code, (f"README line {step.line}: `{step.command}` exited {code}, the README "
                                    f"documents {step.exit_code}; its output ends:\n{shown}")
    expected = gallery.material_lines(step.output)
    assert expected, f"README line {step.line}: no output shown for `{step.command}`"
    assert gallery.material_lines(output) == expected, (
        f"README line {step.line}: the output of `{step.command}` drifted from the README; {REFRESH}")


SVG_STEPS = [s for s in STEPS if s.svgs]


@pytest.mark.parametrize("step", SVG_STEPS, ids=[os.path.basename(s.svgs[0]) for s in SVG_STEPS])
def test_step_diagram(tour, step):
    work, results = tour
    for svg, rel in zip(step.svgs, step.gallery_files):
        produced = work / svg
        assert produced.is_file() and produced.stat().st_size > 0, f"`{step.command}` wrote no {svg}"
        assert f"]({rel})" in README_TEXT or f'src="{rel}"' in README_TEXT, f"README does not show {rel}"
        checked_in = ROOT / rel
        assert checked_in.is_file(), f"{rel} is missing; {REFRESH}"
        titles = gallery.svg_titles(checked_in)
        assert titles, f"{rel} has no boxes"
        assert gallery.svg_titles(produced) == titles, f"the boxes/edges of {rel} drifted; {REFRESH}"


def test_gallery_files_are_small_self_contained_and_used():
    produced = {rel for s in STEPS for rel in s.gallery_files}
    files = sorted((ROOT / "docs" / "gallery").glob("*"))
    assert files, "docs/gallery/ is empty"
    for f in files:
        rel = f"docs/gallery/{f.name}"
        assert rel in produced, f"{rel} is not produced by any README step (stale?)"
        text = f.read_text(encoding="utf-8")
        assert f.stat().st_size < 100_000, f"{rel} is {f.stat().st_size} bytes"
        assert "<script" not in text and "<image" not in text and 'href="' not in text
        assert "/tmp/" not in text and str(ROOT) not in text, f"{rel} holds an absolute path"
