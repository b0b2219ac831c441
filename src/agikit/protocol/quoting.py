"""Command lines exactly as Asterisk's ``parse_args()`` (res/res_agi.c) reads them.

Asterisk splits a command line into words on unquoted, unescaped spaces and TABs; ``"`` toggles
quoting and is dropped; ``\\`` makes the next byte literal and is dropped; ``""`` is an empty word.
Nothing else is special. :func:`encode_argument` quotes a value so that it is read back as exactly
that value, and :func:`split_command_line` is Asterisk's own reading, used by the fake Asterisk and
to prove the round trip.

No ``from __future__ import annotations`` here (nor in the rest of the protocol core): that
statement imports the ``__future__`` module at run time, which process AGI would pay for on every
call. Annotations that name typing-only classes are written as strings instead.

The code lives in :mod:`agikit._protocol`, with the rest of the protocol core: process AGI
imports it on every call, and pays for each module on top of its code.
"""

from .._protocol import (
    MAX_LINE_BYTES,
    MAX_LINE_BYTES_BEFORE_8K,
    MAX_WORDS,
    encode_argument,
    format_command,
    max_line_bytes,
    split_command_line,
    to_bytes,
)

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_LINE_BYTES_BEFORE_8K",
    "MAX_WORDS",
    "encode_argument",
    "format_command",
    "max_line_bytes",
    "split_command_line",
    "to_bytes",
]
