"""Turning the shared command-line options into what the fake Asterisk takes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..testing.scenario import Scenario


def pairs(values: Sequence[str], what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}`` (split at the first ``=``)."""
    found: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"agikit: {what} takes KEY=VALUE, got {value!r}")
        found[key] = rest
    return found


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The :class:`~agikit.testing.scenario.Scenario` the options describe."""
    try:
        return Scenario(
            digits=args.digits,
            variables=pairs(args.var, "--var"),
            database=pairs(args.db, "--db"),
            replies=dict(pairs(args.reply, "--reply")),
            fail=tuple(args.fail),
            hangup_after=args.hangup_after,
            hangup_during=args.hangup_during,
        )
    except ValueError as error:
        raise SystemExit(f"agikit: {error}") from None


def environment_from(args: argparse.Namespace) -> dict[str, str | None]:
    return dict(pairs(args.env, "--env"))
