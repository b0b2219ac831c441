"""``App``: routes calls to handlers by the AGI script path, binding path and query parameters
and the ``AGI()`` arguments to the handler's parameters. The same app serves FastAGI (``agikit
serve module:app``) and process AGI (``agikit.run(app)``)::

    app = App()

    @app.route("/ivr/{lang}")
    async def ivr(call: Call, lang: str, retries: int = 3, *args: str) -> None:
        ...

``AGI(agi://host/ivr/en?retries=5,sales,42)`` calls ``ivr(call, lang="en", retries=5)`` with
``args == ("sales", "42")``. Parameters are bound by name: from the path (``{name}``), then from
the query string; a ``*args`` parameter takes the ``AGI()`` arguments. Values are converted to
the parameter's annotation (``str``, ``int``, ``float``, ``bool``); one that does not fit, or a
missing required one, makes the call fail at once (Asterisk sets ``AGISTATUS=FAILURE``) with the
reason logged.

Process AGI: the route path is the first ``AGI()`` argument when it starts with ``/``
(``AGI(app.py,/ivr/en?retries=5,sales)``; the remaining arguments are the args), otherwise the
script's file name without its extension (``AGI(ivr.py,sales)`` routes to ``/ivr``).

This module avoids ``inspect``, ``typing`` and ``re`` at run time: process AGI pays for every
import on every call.
"""

import contextvars

from .errors import AGIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from .call import Call
    from .protocol.environment import Environment

    Handler = Callable[..., Awaitable[object]]
    CallNext = Callable[["Call"], Awaitable[object]]
    Middleware = Callable[["Call", CallNext], Awaitable[object]]
    Hook = Callable[[], Awaitable[object]]

_CO_VARARGS = 0x04
_TRUE = frozenset(("1", "true", "yes", "on", "y", "t"))
_FALSE = frozenset(("0", "false", "no", "off", "n", "f", ""))


class RouteError(AGIError):
    """A call could not be routed: no route matched, or its parameters did not fit."""


def _convert(value: str, annotation: "Any", name: str) -> "Any":
    kind = annotation if not isinstance(annotation, str) else _NAMED_TYPES.get(annotation)
    if kind is None or kind is str:
        return value
    if kind is bool:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise RouteError(f"parameter {name!r}: expected a boolean, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        label = getattr(kind, "__name__", str(kind))
        raise RouteError(f"parameter {name!r}: expected {label}, got {value!r}") from None


_NAMED_TYPES: "dict[str, Any]" = {"str": str, "int": int, "float": float, "bool": bool}


class _Signature:
    """What binding needs from a handler's signature, read from its code object."""

    __slots__ = ("annotations", "defaults", "keyword_only", "names", "positional", "varargs")

    def __init__(self, handler: "Handler") -> None:
        function: Any = getattr(handler, "__func__", handler)
        code = getattr(function, "__code__", None)
        if code is None:
            raise TypeError(f"route handler {handler!r} is not a function")
        positional = code.co_argcount
        keyword_only = code.co_kwonlyargcount
        names = code.co_varnames[: positional + keyword_only]
        skip = 2 if hasattr(handler, "__self__") else 1  # (self,) call
        if positional < skip:
            raise TypeError(f"route handler {handler.__qualname__} must take the call first")
        self.names: tuple[str, ...] = names[skip:]
        self.positional: tuple[str, ...] = names[skip:positional]
        self.keyword_only: tuple[str, ...] = names[positional:]
        given = function.__defaults__ or ()
        defaults = dict(zip(names[positional - len(given) : positional], given, strict=True))
        defaults.update(function.__kwdefaults__ or {})
        self.defaults: dict[str, Any] = defaults
        self.annotations: dict[str, Any] = dict(getattr(function, "__annotations__", {}))
        self.varargs: str | None = None
        if code.co_flags & _CO_VARARGS:
            self.varargs = code.co_varnames[positional + keyword_only]


class Route:
    """A path pattern (``/ivr/{lang}``, ``/files/{rest:path}``) and its handler."""

    __slots__ = ("_segments", "handler", "name", "pattern", "signature")

    def __init__(self, pattern: str, handler: "Handler", name: str | None = None) -> None:
        if not pattern.startswith("/"):
            raise ValueError(f"a route pattern starts with '/': {pattern!r}")
        self.pattern = pattern
        self.handler = handler
        self.name = name or getattr(handler, "__name__", pattern)
        self.signature = _Signature(handler)
        self._segments: list[tuple[str, str, str]] = []
        parts = pattern.strip("/").split("/") if pattern.strip("/") else []
        for index, part in enumerate(parts):
            if part.startswith("{") and part.endswith("}"):
                name_, _, kind = part[1:-1].partition(":")
                if kind not in ("", "path", "str", "int", "float", "bool"):
                    raise ValueError(f"unknown parameter type {kind!r} in route {pattern!r}")
                if kind == "path" and index != len(parts) - 1:
                    raise ValueError(f"a {{name:path}} parameter must come last: {pattern!r}")
                self._segments.append(("param", name_, kind or ""))
            else:
                self._segments.append(("text", "", part))

    def match(self, path: str) -> "dict[str, Any] | None":
        """The path parameters if ``path`` matches, else None."""
        parts = path.strip("/").split("/") if path.strip("/") else []
        found: dict[str, Any] = {}
        for index, (kind, name, text) in enumerate(self._segments):
            if kind == "param" and text == "path":
                found[name] = "/".join(parts[index:])
                return found
            if index >= len(parts):
                return None
            if kind == "text":
                if parts[index] != text:
                    return None
            else:
                annotation = text or self.signature.annotations.get(name, str)
                try:
                    found[name] = _convert(parts[index], annotation, name)
                except RouteError:
                    return None
        return found if len(parts) == len(self._segments) else None

    def bind(
        self, path_params: "dict[str, Any]", query: "dict[str, list[str]]", args: tuple[str, ...]
    ) -> "tuple[list[Any], dict[str, Any]]":
        """The handler's arguments after the call: ``(positional, keywords)``."""
        signature = self.signature
        keywords: dict[str, Any] = {}
        for name in signature.names:
            annotation = signature.annotations.get(name, str)
            if name in path_params:
                keywords[name] = path_params[name]
            elif name in query:
                keywords[name] = _convert(query[name][-1], annotation, name)
            elif name not in signature.defaults:
                raise RouteError(f"route {self.pattern}: no value for parameter {name!r}")
        positional: list[Any] = []
        if signature.varargs is not None:
            annotation = signature.annotations.get(signature.varargs, str)
            positional = [_convert(arg, annotation, signature.varargs) for arg in args]
            # With *args, the parameters before it must be passed by position.
            named = [keywords.pop(n, signature.defaults.get(n)) for n in signature.positional]
            positional = named + positional
        return positional, keywords

    def __repr__(self) -> str:
        return f"Route({self.pattern!r} -> {self.name})"


class App:
    """An AGI application: routes, middleware, start-up and shutdown hooks.

    ``await app(call)`` handles one call, so an app is a handler for every transport.
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.default: Handler | None = None
        self.middleware: list[Middleware] = []
        self.startup: list[Hook] = []
        self.shutdown: list[Hook] = []
        #: True between start() and stop(): a server runs the hooks around all its calls.
        self.started = False

    def route(self, pattern: str, *, name: str | None = None) -> "Callable[[Handler], Handler]":
        """Register ``async def handler(call, ...)`` for the script paths matching ``pattern``."""

        def register(handler: "Handler") -> "Handler":
            self.routes.append(Route(pattern, handler, name))
            return handler

        return register

    def fallback(self, handler: "Handler") -> "Handler":
        """Register the handler for calls no route matches (by default they fail)."""
        self.default = handler
        return handler

    def use(self, middleware: "Middleware") -> "Middleware":
        """Add ``async def middleware(call, call_next)``; the first added runs outermost."""
        self.middleware.append(middleware)
        return middleware

    def on_startup(self, hook: "Hook") -> "Hook":
        self.startup.append(hook)
        return hook

    def on_shutdown(self, hook: "Hook") -> "Hook":
        self.shutdown.append(hook)
        return hook

    async def start(self) -> None:
        """Run the start-up hooks (servers call this before accepting calls)."""
        self.started = True
        for hook in self.startup:
            await hook()

    async def stop(self) -> None:
        """Run the shutdown hooks, last registered first."""
        self.started = False
        for hook in reversed(self.shutdown):
            await hook()

    def resolve(
        self, call: "Call"
    ) -> "tuple[Route | None, str, dict[str, list[str]], tuple[str, ...]]":
        """The route for a call, with the path, query and ``AGI()`` arguments it was found by."""
        path, query_string, args = route_target(call)
        query = _parse_query(query_string)
        for route in self.routes:
            if route.match(path) is not None:
                return route, path, query, args
        return None, path, query, args

    async def __call__(self, call: "Call") -> None:
        if not self.started:
            # No server ran the hooks (process AGI: one call per process): run them around
            # this call.
            await self.start()
            try:
                await self._handle(call)
            finally:
                await self.stop()
            return
        await self._handle(call)

    async def _handle(self, call: "Call") -> None:
        route, path, query, args = self.resolve(call)
        env = call.env
        context = dict(call_context.get() or {})
        context.update(
            uniqueid=env.uniqueid,
            channel=env.channel,
            route=route.pattern if route else None,
            path=path,
        )
        call_context.set(context)

        async def endpoint(call: "Call") -> object:
            if route is None:
                if self.default is None:
                    raise RouteError(f"no route for {path!r}")
                return await self.default(call)
            positional, keywords = route.bind(route.match(path) or {}, query, args)
            return await route.handler(call, *positional, **keywords)

        handler: CallNext = endpoint
        for middleware in reversed(self.middleware):
            handler = _wrap(middleware, handler)
        await handler(call)

    def __repr__(self) -> str:
        return f"App(routes={self.routes})"


def _wrap(middleware: "Middleware", call_next: "CallNext") -> "CallNext":
    async def wrapped(call: "Call") -> object:
        return await middleware(call, call_next)

    return wrapped


def _parse_query(query_string: str) -> "dict[str, list[str]]":
    if not query_string:
        return {}
    from urllib.parse import parse_qs

    return parse_qs(query_string, keep_blank_values=True)


def route_target(call: "Call") -> "tuple[str, str, tuple[str, ...]]":
    """``(path, query string, args)`` by which a call is routed (see the module docstring)."""
    env = call.env
    if env.network:
        script = env.network_script or ""
        path, _, query = script.partition("?")
        return "/" + path.lstrip("/"), query, env.args
    if env.args and env.args[0].startswith("/"):
        path, _, query = env.args[0].partition("?")
        return path, query, env.args[1:]
    name = env.request.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return "/" + stem, "", env.args


#: The current call's routing facts (``uniqueid``, ``channel``, ``route``, ``path``) that an
#: :class:`App` sets for its handlers, for log records (see ``agikit.log``).
call_context: "contextvars.ContextVar[dict[str, Any] | None]" = contextvars.ContextVar(
    "agikit_call", default=None
)
#: The environment of the call that the current task serves: every server sets it for its
#: handler (log records take ``uniqueid`` and ``channel`` from it). The environment itself, not
#: a dict of facts: a server pays for no field that no log record reads.
call_environment: "contextvars.ContextVar[Environment | None]" = contextvars.ContextVar(
    "agikit_environment", default=None
)
