"""Run every Python sample of the documentation as a reader would (see ``_samples.py``): files
saved side by side in one directory per page, scripts run with ``python``, test files with
``pytest``. Samples that use the real-Asterisk harness are marked ``integration``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from ._samples import Block, python_blocks

BLOCKS = python_blocks()
RUNNABLE = [
    block
    for block in BLOCKS
    if block.not_run is None and not block.is_file and (block.example is None or block.is_test)
]
#: Illustrations: fragments that cannot run on their own. Keep them few.
MAX_NOT_RUN = 6
_USES_ASTERISK = re.compile(r"\bdef test_\w*\([^)]*\basterisk\b|agikit\.testing\.asterisk")

_workdirs: dict[str, Path] = {}


def _workdir(page: str, factory: pytest.TempPathFactory) -> Path:
    """The page's directory, with every file the page shows written into it."""
    if page not in _workdirs:
        directory = factory.mktemp(re.sub(r"\W+", "-", page))
        for block in BLOCKS:
            if block.page == page and block.is_file and block.title is not None:
                target = directory / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code)
        _workdirs[page] = directory
    return _workdirs[page]


def _param(block: Block) -> object:
    marks = [pytest.mark.integration] if _USES_ASTERISK.search(block.code) else []
    return pytest.param(block, id=block.id, marks=marks)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("block", [_param(block) for block in RUNNABLE])
def test_sample_runs(block: Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = _workdir(block.page, tmp_path_factory)
    if block.is_test:
        assert block.title is not None
        path = directory / block.title
        path.write_text(block.code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", block.title]
    else:
        path = directory / f"_sample_line_{block.line}.py"
        path.write_text(block.code)
        command = [sys.executable, path.name]
    environment = {**os.environ, "PYTHONPATH": str(directory), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        command,
        cwd=directory,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"{block.id} failed:\n{done.stdout}\n{done.stderr}"
    if block.is_test:
        assert re.search(r"\b\d+ passed\b", done.stdout), done.stdout
        assert not re.search(r"\b\d+ (skipped|failed|errors?)\b", done.stdout), done.stdout


def test_every_file_sample_is_exercised() -> None:
    """A file the reader saves is imported or run by a script or test on the same page."""
    runnable_text: dict[str, str] = defaultdict(str)
    for block in RUNNABLE:
        runnable_text[block.page] += block.code
    unused = [
        block.id
        for block in BLOCKS
        if block.is_file
        and block.not_run is None
        and block.example is None  # tests/examples runs those
        and block.title is not None
        and Path(block.title).stem not in runnable_text[block.page]
        and Path(block.title).name != "conftest.py"
    ]
    assert not unused, f"file samples that nothing on their page runs: {unused}"


def test_example_code_is_tested_by_tests_examples() -> None:
    """Example code shown in the docs runs in tests/examples, which must exist."""
    tests = Path(__file__).resolve().parents[1] / "examples"
    for block in BLOCKS:
        if block.example is not None:
            stem = Path(block.example).stem
            assert (tests / f"test_{stem}.py").is_file(), f"{block.id}: no tests for {stem}"


def test_illustrations_are_few_and_explained() -> None:
    illustrations = [block for block in BLOCKS if block.not_run is not None]
    assert len(illustrations) <= MAX_NOT_RUN, [block.id for block in illustrations]
    assert all(len(block.not_run or "") >= 10 for block in illustrations)


def test_there_are_samples() -> None:
    assert len(RUNNABLE) >= 10


def test_sample_lines_fit_the_page() -> None:
    """Lines of at most 88 characters show without a scroll bar in the theme."""
    long = [
        f"{block.id} line {number}"
        for block in BLOCKS
        if block.example is None
        for number, line in enumerate(block.code.splitlines(), 1)
        if len(line) > 88
    ]
    assert not long, long
