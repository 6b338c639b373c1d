"""Shared fixtures: sample models built in code (never downloaded), saved to temp dirs."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def keras():
    import keras as k

    return k


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory, keras):
    """Every `.keras` sample of the seed text, built once per test session."""
    from samples import seed_models

    out = tmp_path_factory.mktemp("samples")
    models = {}
    for name, build in seed_models.SAMPLES.items():
        keras.backend.clear_session()
        model = build()
        path = str(out / f"{name}.keras")
        model.save(path)
        models[name] = (model, path)
    return models


def run_cli(*args: str, check_tf: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter (as a user would)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    code = "import sys; from inspector.cli import main; sys.argv = ['inspector'] + sys.argv[1:]\n"
    if check_tf:
        code += ("import atexit\n"
                 "atexit.register(lambda: print('TF_LOADED=' + str('tensorflow' in sys.modules or 'keras' in sys.modules), file=sys.stderr))\n")
    code += "main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=kw.pop("timeout", 120), **kw)


def user_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's C++ start-up chatter (absl lines it prints on import)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith("WARNING: All log messages before absl")
            and not re.match(r"^[IWEF]\d{4} ", line) and "rebuild TensorFlow with the appropriate" not in line]


# --------------------------------------------------------------------------- headless Chromium
# Debian's chromium and chromium-driver, given by path: Selenium Manager never downloads a browser or driver.
CHROMIUM = os.environ.get("INSPECTOR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INSPECTOR_CHROMEDRIVER", "/usr/bin/chromedriver")


def _why_no_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for exe, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            return f"{exe} not found: apt-get install {pkg} (or `make browser`)"
    return None


needs_browser = pytest.mark.skipif(_why_no_browser() is not None, reason=_why_no_browser() or "")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1400,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


