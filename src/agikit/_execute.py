"""Compatibility: :func:`~agikit.commands.complete` and :func:`~agikit.commands.refuse_when_dead`
live in :mod:`agikit.commands` now, beside the parsers they run.

Import them from there: process AGI pays for every module it imports, this one included.
"""

from .commands import complete, refuse_when_dead

__all__ = ["complete", "refuse_when_dead"]
