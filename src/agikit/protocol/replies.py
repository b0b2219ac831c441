"""AGI replies: one typed value per reply, whatever shape it arrived in.

A reply is a final line ``NNN text`` (200, 503, 510, 511, 520), possibly preceded by ``100``
lines (GOSUB's ``Trying...``), or a ``520-`` usage block ending with a ``520 `` line. The
session (``session.py``) assembles the lines; this module gives them meaning.

Like the rest of the protocol core, this module imports nothing beyond the interpreter's own
start-up set (no ``typing``, ``dataclasses``, ``re``): process AGI pays for every import on every
call.

The code lives in :mod:`agikit._protocol`, with the rest of the protocol core: process AGI
imports it on every call, and pays for each module on top of its code.
"""

from .._protocol import (
    Reply,
    decode,
    parse_fields,
    parse_final_line,
)

__all__ = [
    "Reply",
    "decode",
    "parse_fields",
    "parse_final_line",
]
