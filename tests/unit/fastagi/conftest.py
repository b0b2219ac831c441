"""Fixtures of the FastAGI server tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from ._support import LOOPS, Runner

T = TypeVar("T")


@pytest.fixture(params=LOOPS)
def run(request: pytest.FixtureRequest) -> Runner[Any]:
    """``run(main())``: run a coroutine to completion on a fresh event loop of each kind."""

    def runner(coroutine: Coroutine[Any, Any, T]) -> T:
        if request.param == "uvloop":
            import uvloop

            return uvloop.run(coroutine)
        return asyncio.run(coroutine)

    return runner
