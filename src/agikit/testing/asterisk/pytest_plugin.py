"""pytest fixtures that run tests against a real Asterisk 22.

Enable with ``pytest_plugins = ["agikit.testing.asterisk.pytest_plugin"]`` in a ``conftest.py``.
Tests that use the ``asterisk`` or ``asterisk_with_dns`` fixture (directly or through another
fixture) are marked ``integration`` automatically, so ``pytest -m "not integration"`` runs
without Asterisk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._dns import LoopbackDNS
from ._instance import Asterisk

ScriptWriter = Callable[[str, str], str]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs the real Asterisk 22 that agikit provisions"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "asterisk" in names or "asterisk_with_dns" in names:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Asterisk]:
    """One Asterisk for the whole session, provisioned on first use, stopped at the end."""
    instance = Asterisk()
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def loopback_dns() -> Iterator[LoopbackDNS]:
    """A DNS server on ``127.53.0.x:53`` for the whole session (see :class:`LoopbackDNS`).

    Records stay until removed: give each test its own names (and ``remove`` them after).
    """
    with LoopbackDNS() as dns:
        yield dns


@pytest.fixture(scope="session")
def asterisk_with_dns(loopback_dns: LoopbackDNS) -> Iterator[Asterisk]:
    """A second session Asterisk whose DNS lookups go to ``loopback_dns`` only, for
    ``hagi://``; started when a test first asks for it, so other runs don't pay for it."""
    instance = Asterisk(nameserver=loopback_dns.host)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def agi_script(asterisk: Asterisk) -> Iterator[ScriptWriter]:
    """Write an executable script into Asterisk's agi-bin: ``agi_script(name, text) -> name``.

    Scripts run inside the chroot (its ``python3``), with the project's source importable.
    They are removed after the test.
    """
    written: list[Path] = []

    def write(name: str, text: str) -> str:
        path = asterisk.agi_bin / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
        return name

    yield write
    for path in written:
        if os.path.exists(path):
            path.unlink()
