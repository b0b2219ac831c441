"""Logging for agikit servers: a readable line per record, or JSON lines, each carrying the call
it belongs to (uniqueid, channel, route) when there is one."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from .app import call_context, call_environment

_CONTEXT_FIELDS = ("uniqueid", "channel", "route")
#: The fields that a call's environment gives when no App has set them (a plain handler).
_ENVIRONMENT_FIELDS = ("uniqueid", "channel")


class CallContextFilter(logging.Filter):
    """Adds the current call's ``uniqueid``, ``channel`` and ``route`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = call_context.get() or {}
        environment = call_environment.get()
        for name in _CONTEXT_FIELDS:
            if not hasattr(record, name):
                value = context.get(name)
                if value is None and environment is not None and name in _ENVIRONMENT_FIELDS:
                    value = getattr(environment, name)
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``2026-11-27 18:00:00.123 INFO agikit.fastagi [1700000000.1 /ivr] message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        context = " ".join(
            str(value)
            for value in (getattr(record, "uniqueid", None), getattr(record, "route", None))
            if value
        )
        line = f"{stamp}.{int(record.msecs):03d} {record.levelname} {record.name}"
        line += f" [{context}] " if context else " "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, call context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send agikit's logs (and the root logger's) to stderr as ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(CallContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
