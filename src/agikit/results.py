"""The typed results of AGI commands: small immutable values, one class per reply shape.

Every command method of :class:`~agikit.call.Call` returns one of these, a plain ``str``/``bool``/
``int``, or ``None``. Conventions shared by all of them:

- A key the caller pressed is the character itself (``"5"``, ``"#"``, ``"A"``), never Asterisk's
  ASCII code; ``None`` means no key. A playback interrupted by a stream-control frame (AMI
  ``ControlPlayback``, ARI) reports one of the :class:`StreamControl` words instead, which are
  longer than one character and so never equal a key.
- Positions keep Asterisk's units and say so in their names: ``endpos`` is in samples of the file
  (8000 per second for 8 kHz files), ``endpos_ms`` in milliseconds.
"""

# The classes live in agikit._outcomes, with the error classes: process AGI imports them on
# every call, and pays for each module on top of its code. Each one's __module__ names this
# module, as if defined here.
from ._outcomes import (  # noqa: I001 - in the order of the documentation
    StreamControl,
    PlaybackResult,
    ControlPlaybackResult,
    DigitsResult,
    RecordResult,
    SpeechHypothesis,
    SpeechResult,
    GosubResult,
    ChannelState,
)

__all__ = [
    "ChannelState",
    "ControlPlaybackResult",
    "DigitsResult",
    "GosubResult",
    "PlaybackResult",
    "RecordResult",
    "SpeechHypothesis",
    "SpeechResult",
    "StreamControl",
]
