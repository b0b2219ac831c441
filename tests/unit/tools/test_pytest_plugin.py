"""The pytest plugin: registered by installing agikit, light to load, and its documented example
runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import agikit.testing.pytest_plugin as plugin

pytestmark = pytest.mark.timeout(60)


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a fresh process, in ``directory``: only what installing agikit registers."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=directory,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_installing_agikit_registers_the_plugin() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.value.startswith("agikit")]
    assert [(ep.name, ep.value) for ep in found] == [("agikit", "agikit.testing.pytest_plugin")]


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, agikit.testing.pytest_plugin\n"
        "heavy = [m for m in sys.modules if m.startswith(('agikit.testing.', 'agikit.transports'))"
        " and m != 'agikit.testing.pytest_plugin']\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_documented_example_passes(tmp_path: Path) -> None:
    assert plugin.__doc__ is not None
    example = plugin.__doc__.split("``test_ivr.py``::\n", 1)[1].split("\nWhat the fixture", 1)[0]
    source = textwrap.dedent(example)
    # Two tests need what this example cannot bring: a production log, an async test plugin.
    source = source.replace("def test_regression_from_production", "def _needs_a_log")
    source = source.replace("async def test_from_async_code", "async def _needs_an_async_plugin")
    (tmp_path / "test_ivr.py").write_text(source)
    done = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_a_failing_test_shows_its_calls(tmp_path: Path) -> None:
    (tmp_path / "test_fails.py").write_text(
        textwrap.dedent(
            """
            def handler(call):
                call.answer()
                call.stream_file("hello-world")

            def test_it(agi):
                agi.run(handler)
                agi.assert_commands(["ANSWER", 'STREAM FILE goodbye ""'])
            """
        )
    )
    done = run_pytest(tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "agikit: the calls of this test" in out
    assert '>> STREAM FILE hello-world ""' in out
    assert "^ first difference: word 3 (argument): expected 'goodbye', sent 'hello-world'" in out
