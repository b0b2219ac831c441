"""App routing and binding, driven through the fake Asterisk over FastAGI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agikit import Call
from agikit.app import App, Route, RouteError, route_target
from agikit.protocol.environment import Environment
from agikit.testing.fake import FakeAsterisk, expect
from agikit.transports.fastagi import FastAGIServer


def run_calls(app: App, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
    """Send each (URL path+query, args, script) to a server running ``app``; return results."""

    async def main() -> list[Any]:
        async with FastAGIServer(app, port=0) as server:
            results = []
            for path, args, script in calls:
                fake = FakeAsterisk(script, args=args, timeout=5)
                url = f"agi://127.0.0.1:{server.bound_port}/{path}"
                results.append(await fake.start_fastagi(url).wait_async())
            return results

    return asyncio.run(main())


def test_path_query_and_args_bind_to_parameters() -> None:
    app = App()
    seen: dict[str, Any] = {}

    @app.route("/ivr/{lang}")
    async def ivr(call: Call, lang: str, retries: int = 3, *args: str) -> None:
        seen["ivr"] = (lang, retries, args)
        await call.answer()

    @app.route("/n/{number:int}/{rest:path}")
    async def numbered(call: Call, number: int, rest: str, *, loud: bool = False) -> None:
        seen["numbered"] = (number, rest, loud)

    results = run_calls(
        app,
        [
            ("ivr/en?retries=5", ["sales", "42"], [expect("ANSWER")]),
            ("n/7/a/b?loud=yes", [], []),
        ],
    )
    for result in results:
        result.assert_ok()
    assert seen == {"ivr": ("en", 5, ("sales", "42")), "numbered": (7, "a/b", True)}


@pytest.mark.parametrize(
    "path",
    ["nowhere", "ivr/en?retries=many", "n/x", "need"],
    ids=["no-route", "bad-int", "no-match", "missing"],
)
def test_calls_that_do_not_fit_fail_with_the_failure_line(path: str) -> None:
    app = App()

    @app.route("/ivr/{lang}")
    async def ivr(call: Call, lang: str, retries: int = 3) -> None:
        raise AssertionError("not reached")

    @app.route("/need")
    async def need(call: Call, value: int) -> None:
        raise AssertionError("not reached")

    (result,) = run_calls(app, [(path, [], [])])
    assert result.agi_status == "FAILURE", result.report()


def test_fallback_middleware_and_hooks() -> None:
    app = App()
    order: list[str] = []

    @app.on_startup
    async def started() -> None:
        order.append("startup")

    @app.on_shutdown
    async def stopped() -> None:
        order.append("shutdown")

    @app.use
    async def outer(call: Call, call_next: Any) -> object:
        order.append("outer in")
        try:
            return await call_next(call)
        finally:
            order.append("outer out")

    @app.use
    async def inner(call: Call, call_next: Any) -> object:
        order.append("inner")
        return await call_next(call)

    @app.fallback
    async def anything(call: Call) -> None:
        order.append(f"fallback {call.env.script_path}")

    (result,) = run_calls(app, [("some/where", [], [])])
    result.assert_ok()
    assert order == [
        "startup",
        "outer in",
        "inner",
        "fallback some/where",
        "outer out",
        "shutdown",
    ]


def _env(**values: str) -> Environment:
    return Environment({f"agi_{k}": v for k, v in values.items()})


class _FakeCall:
    def __init__(self, env: Environment) -> None:
        self.env = env


@pytest.mark.parametrize(
    ("env", "target"),
    [
        (_env(network="yes", network_script="ivr/en?x=1", arg_1="a"), ("/ivr/en", "x=1", ("a",))),
        (_env(network="yes", request="agi://h"), ("/", "", ())),
        (_env(request="/var/lib/asterisk/agi-bin/ivr.py", arg_1="a"), ("/ivr", "", ("a",))),
        (_env(request="app.py", arg_1="/menu/2?x=y", arg_2="b"), ("/menu/2", "x=y", ("b",))),
        (_env(request="async", arg_1="/queue"), ("/queue", "", ())),
    ],
    ids=["fastagi", "fastagi-root", "process-by-name", "process-by-arg", "async-by-arg"],
)
def test_route_target(env: Environment, target: tuple[str, str, tuple[str, ...]]) -> None:
    assert route_target(_FakeCall(env)) == target  # type: ignore[arg-type]


def test_route_patterns_are_checked() -> None:
    async def handler(call: Call) -> None: ...

    with pytest.raises(ValueError, match="starts with '/'"):
        Route("ivr", handler)
    with pytest.raises(ValueError, match="unknown parameter type"):
        Route("/x/{a:uuid}", handler)
    with pytest.raises(ValueError, match="must come last"):
        Route("/x/{a:path}/b", handler)
    assert Route("/x/{a:int}", handler).match("/x/12") == {"a": 12}
    assert Route("/x/{a:int}", handler).match("/x/twelve") is None
    assert Route("/", handler).match("/") == {}


async def _needs_int(call: Call, n: int) -> None: ...


def test_bind_converts_and_names_the_parameter() -> None:
    route = Route("/x", _needs_int)
    assert route.bind({}, {"n": ["1", "42"]}, ()) == ([], {"n": 42})
    with pytest.raises(RouteError, match="'n': expected int, got 'q'"):
        route.bind({}, {"n": ["q"]}, ())
    with pytest.raises(RouteError, match="no value for parameter 'n'"):
        route.bind({}, {}, ())
