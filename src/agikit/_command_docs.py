"""The documentation of every AGI command: the prose half of the command table.

:mod:`agikit.commands` says what each command is (words, parameters, result); this module says,
under the same constant names, what to tell the user: Asterisk's usage line, the method's
documentation, each parameter's entry under Args, and the Returns and Raises sections. The code
generator (``python -m agikit._codegen``) joins the two into the ``Call`` and ``SyncCall``
docstrings, and :class:`~agikit.commands.Command` reads its entry here on first access (``doc``,
``syntax`` ...). A test checks that both halves name the same commands and parameters.

It is a module of its own so that process AGI, which imports :mod:`agikit.commands` on every
call, does not load the prose of 47 commands to run a few.
"""

__all__ = ["CommandDoc"]


class CommandDoc:
    """One command's documentation.

    ``syntax`` is Asterisk's usage line; ``doc`` the method's documentation (first line: the
    summary, at most 89 characters, ending with a period); ``params`` each parameter's entry
    under Args, by name; ``returns_doc`` and ``raises_doc`` the Returns and Raises sections
    (``""``: none; a command returning ``None`` has no Returns section).
    """

    __slots__ = ("doc", "params", "raises_doc", "returns_doc", "syntax")

    def __init__(
        self,
        syntax: str,
        doc: str,
        *,
        params: dict[str, str] | None = None,
        returns_doc: str = "",
        raises_doc: str = "",
    ) -> None:
        self.syntax = syntax
        self.doc = doc
        self.params = params or {}
        self.returns_doc = returns_doc
        self.raises_doc = raises_doc

    def __repr__(self) -> str:
        return f"<CommandDoc {self.syntax!r}>"


#: The usual entry for ``escape_digits``.
_ESCAPE_DIGITS = 'Keys that interrupt (a str of 0-9 * # A-D); "" for none.'


ANSWER = CommandDoc(
    "ANSWER",
    """\
Answer the channel (does nothing if it is already up).""",
    raises_doc="CommandFailed: the channel could not be answered (``result=-1``).",
)

ASYNCAGI_BREAK = CommandDoc(
    "ASYNCAGI BREAK",
    """\
End an Async AGI session; the dialplan continues.

Under Async AGI this ends the session (``AsyncAGIEnd``, ``AGISTATUS=SUCCESS``) and the dialplan
continues at the next priority, or where ``set_context``/``set_extension``/``set_priority``
point. Under process AGI and FastAGI it does nothing (just ``200 result=0``).""",
)

CHANNEL_STATUS = CommandDoc(
    "CHANNEL STATUS [channelname]",
    """\
The state of this channel or of another one, by name.

The name is looked up exactly in Asterisk's channel snapshot cache, so unlike ``hangup`` and
``get_full_variable`` a unique ID does not work here (it reads as an unknown channel).""",
    params={
        "channel": "Another channel's exact name (not a unique ID); None for this channel.",
    },
    returns_doc="The :class:`~agikit.results.ChannelState` (an int: ``ChannelState.UP`` is 6), "
    "or None when no channel has that name.",
)

DATABASE_DEL = CommandDoc(
    "DATABASE DEL <family> <key>",
    """\
Delete one key from the Asterisk database (AstDB).

Asterisk reports success even when the key did not exist, so this cannot tell whether anything
was deleted; use ``database_get`` first if that matters. Works on a dead channel.""",
    params={
        "family": "The AstDB family.",
        "key": "The key within the family.",
    },
    raises_doc="CommandFailed: the database reported an error (``result=0``).",
)

DATABASE_DELTREE = CommandDoc(
    "DATABASE DELTREE <family> [keytree]",
    """\
Delete a whole family, or the keys under a prefix, from the Asterisk database.

Asterisk's result is the opposite of its documentation: it sends ``result=0`` when at least one
entry was deleted and ``result=1`` when nothing was (or on a database error). This method
returns what actually happened. Works on a dead channel.""",
    params={
        "family": "The AstDB family.",
        "keytree": "Delete only the keys under this prefix; None for the whole family.",
    },
    returns_doc="True if at least one entry was deleted, False if nothing was (or the database "
    "reported an error).",
)

DATABASE_GET = CommandDoc(
    "DATABASE GET <family> <key>",
    """\
Read a value from the Asterisk database (AstDB).

The value comes back exactly as stored (spaces and parentheses included); there is no length
limit. Works on a dead channel. Over Async AGI, replies longer than about 1 KB are split by
Asterisk (see the Async AGI notes).""",
    params={
        "family": "The AstDB family.",
        "key": "The key within the family.",
    },
    returns_doc='The value (``""`` for an empty one), or None when the key does not exist.',
)

DATABASE_PUT = CommandDoc(
    "DATABASE PUT <family> <key> <value>",
    """\
Store a value in the Asterisk database (AstDB), replacing any previous one.

Works on a dead channel, so cleanup code can record the outcome of a call.""",
    params={
        "family": "The AstDB family.",
        "key": "The key within the family.",
        "value": "The value; numbers are sent as str().",
    },
    raises_doc="CommandFailed: the database reported an error (``result=0``).",
)

EXEC = CommandDoc(
    "EXEC <application> [options]",
    """\
Run a dialplan application, e.g. ``exec("Dial", "PJSIP/bob", "30", "tT")``.

Asterisk passes exactly one options word to the application, which splits it on commas as the
dialplan does; the arguments given here are joined with commas into that word. The options are
not variable-substituted unless the channel variable ``AGIEXECFULL`` is true.

It runs on a dead channel too (the application then runs against the hung-up channel). Caveats
from Asterisk's code: an application that returns 1 makes Asterisk send a 520 usage block after
the reply, which puts the command stream out of step; one that returns 2 counts as a failure;
one that returns 3 ends an Async AGI session. The standard applications return 0 or -1.""",
    params={
        "application": 'The dialplan application, e.g. ``"Dial"``.',
        "options": (
            "The application's arguments, joined with commas into the one options word "
            "Asterisk passes on (a single pre-joined string works too)."
        ),
    },
    returns_doc="The application's return value: 0 normally, -1 when it asks to end the call "
    "(e.g. ``Dial`` after the caller hung up, or ``Hangup``).",
    raises_doc="CommandFailed: no application by that name (``result=-2``).",
)

GET_DATA = CommandDoc(
    "GET DATA <file> [timeout] [maxdigits]",
    """\
Play a prompt and collect digits until ``#``, ``max_digits`` or a timeout.

Any key interrupts the prompt and counts as the first digit. ``#`` ends input and is not part of
the digits; pressed first, it gives an empty string. Unlike the dialplan's ``Read()``, several
prompts joined with ``&`` are not supported.""",
    params={
        "file": 'The prompt to play; "" for none.',
        "timeout": (
            "Seconds to wait for each digit; None (or 0) keeps Asterisk's default of 6 s for "
            "the first digit and 2 s between digits; inf waits (practically) forever."
        ),
        "max_digits": "Stop after this many digits (1-1024); None for Asterisk's limit of 1024.",
    },
    returns_doc="A :class:`~agikit.results.DigitsResult`: ``digits`` (possibly empty) and "
    "``timed_out``.",
    raises_doc="CommandFailed: the prompt could not be played (``result=-1``; missing file).",
)

GET_FULL_VARIABLE = CommandDoc(
    "GET FULL VARIABLE <expression> [channelname]",
    """\
Expand dialplan text (``${VAR}``, ``${FUNC(args)}``) as the dialplan would.

Variables must be written as ``${...}``: a bare name is returned as it is. There is no length
limit (unlike ``get_variable``). Works on a dead channel.""",
    params={
        "expression": 'Dialplan text to expand, e.g. ``"${CALLERID(num)}-${EXTEN}"``.',
        "channel": "Evaluate on this channel (name or unique ID); None for this channel.",
    },
    returns_doc='The expanded text (``""`` when it expands to nothing), or None when '
    "``channel`` does not exist.",
)

GET_OPTION = CommandDoc(
    "GET OPTION <filename> <escape_digits> [timeout]",
    """\
Play a file like ``stream_file``, then wait for one of the escape digits.

During the wait after the prompt, a key that is not an escape digit (or a hangup) ends the wait
with no digit.""",
    params={
        "filename": "The file to play, without extension.",
        "escape_digits": _ESCAPE_DIGITS,
        "timeout": (
            "Seconds to wait for a key after the prompt; None uses the PBX digit timeout "
            "(``TIMEOUT(digit)``, 5 s by default); 0 does not wait; inf waits forever."
        ),
    },
    returns_doc="A :class:`~agikit.results.PlaybackResult`: the escape digit pressed (None if "
    "none) and ``endpos`` in samples.",
    raises_doc="CommandFailed: the file does not exist, or the channel hung up during the "
    "prompt (``result=-1``).",
)

GET_VARIABLE = CommandDoc(
    "GET VARIABLE <variablename>",
    """\
Read a channel variable, or a dialplan function when the name ends with ``)``.

Asterisk cuts the value at 1023 bytes; use ``get_full_variable("${NAME}")`` for longer values.
Works on a dead channel (e.g. ``DIALSTATUS`` in cleanup code).""",
    params={
        "name": (
            "A variable (also globals and built-ins such as ``UNIQUEID``), or a function read "
            'such as ``"CALLERID(num)"``.'
        ),
    },
    returns_doc='The value (``""`` when set but empty), or None when the variable is not '
    "set or the function failed.",
)

HANGUP = CommandDoc(
    "HANGUP [channelname]",
    """\
Hang up this channel, or another one.

Hanging up this channel is followed by the hangup notification (SIGHUP, or the ``HANGUP`` line
over FastAGI): from then on only the commands allowed on a dead channel work.""",
    params={
        "channel": "Another channel, by name or unique ID; None hangs up this channel.",
    },
    returns_doc="True when the channel was hung up, False when no channel has that name.",
)

NOOP = CommandDoc(
    "NOOP [anything]",
    """\
Do nothing: a round trip to Asterisk.

Useful as a ping, and to learn of a hangup: it works on a dead channel, and any pending hangup
notification arrives before its reply.""",
    params={
        "text": "Ignored by Asterisk, but visible with ``agi set debug on``: a marker in the log.",
    },
)

RECEIVE_CHAR = CommandDoc(
    "RECEIVE CHAR <timeout>",
    """\
Receive the first character of a text message, on channels that carry text.

Asterisk answers ``result=-1 (hangup)`` alike for a timeout, a channel that cannot carry text,
and a real hangup, and counts it as a command failure (``AGISTATUS=FAILURE``; under Async AGI it
ends the session). This method returns None for all three: a real hangup shows up on the next
command. Text that arrives while no RECEIVE command runs is lost.""",
    params={
        "timeout": (
            "Seconds to wait; 0 returns at once (not 'forever', whatever Asterisk's "
            "documentation says); None waits forever."
        ),
    },
    returns_doc="The character (the first byte of the message; a byte that is not ASCII comes "
    "back as a lone surrogate, like undecodable text elsewhere), or None: timeout, no text "
    "support, or hangup.",
)

RECEIVE_TEXT = CommandDoc(
    "RECEIVE TEXT <timeout>",
    """\
Receive a text message, on channels that carry text.

Text that arrives while no RECEIVE command runs is lost. A newline inside the text would break
the reply line (Asterisk does not escape it).""",
    params={
        "timeout": (
            "Seconds to wait; 0 returns at once (not 'forever', whatever Asterisk's "
            "documentation says); None waits forever."
        ),
    },
    returns_doc="The text, or None: timeout, no text support, or hangup.",
)

RECORD_FILE = CommandDoc(
    "RECORD FILE <filename> <format> <escape_digits> <timeout> [offset_samples] [BEEP] "
    "[s=<silence>]",
    """\
Record the caller to a file, until an escape digit, the time limit, silence or hangup.

The optional arguments are always sent in the one form Asterisk cannot misread (its reading of
arguments 5 to 7 is a guessing game: a non-number 5th argument means "beep", any 6th argument
not starting with ``s=`` means "beep", and the silence setting is the first argument containing
a lowercase ``s``): ``offset`` as a number (0 when absent) before ``BEEP`` and ``s=<seconds>``.

The beep can be interrupted by an escape digit, which cancels the recording. When silence ends
the recording, the trailing silence (minus one second) is trimmed. With ``transmit_silence`` in
asterisk.conf, Asterisk sends silence to the caller while recording. A new command line does not
interrupt the recording, and no EAGI audio flows during it.""",
    params={
        "filename": (
            "Path without extension; use an absolute path (a relative one goes under "
            "Asterisk's sounds directory)."
        ),
        "format": 'File format / extension: ``"wav"``, ``"gsm"``, ``"ulaw"``, ``"wav16"`` ...',
        "escape_digits": 'Keys that stop the recording (0-9 * # A-D); "" for none.',
        "timeout": "Longest recording in seconds; None (or inf) for no limit.",
        "offset": "Start at this sample offset; a non-zero offset appends to an existing file.",
        "beep": "Play a beep before recording.",
        "silence": "Stop after this many whole seconds of silence; None for no silence detection.",
    },
    returns_doc='A :class:`~agikit.results.RecordResult`: ``outcome`` (``"timeout"``, '
    '``"dtmf"``, ``"hangup"`` or ``"randomerror"`` for a beep interrupted by a key), the '
    "``digit`` that stopped it, and ``endpos``, the length recorded in samples. A hangup while "
    "recording is a result, not an error: the recording is kept.",
    raises_doc="CommandFailed: the file could not be created (``(writefile)``: missing "
    "directory, unknown format), the beep could not be played or the channel hung up during "
    "it, waiting for audio failed, or silence detection could not be set up.",
)

_SAY_RETURNS = "The escape digit pressed, or None when it finished."
_SAY_RAISES = "CommandFailed: an error, or the channel hung up (``result=-1``)."
_SAY_NOT_INTERRUPTED = (
    "Under process AGI and FastAGI a new command line does not interrupt it (only under EAGI)."
)

SAY_ALPHA = CommandDoc(
    "SAY ALPHA <string> <escape_digits> [case]",
    f"""\
Spell a string character by character, in the channel's language.

``case`` is an argument Asterisk's code reads but its documentation does not mention (it looks
at the first letter only). {_SAY_NOT_INTERRUPTED}""",
    params={
        "text": "The characters to spell.",
        "escape_digits": _ESCAPE_DIGITS,
        "case": (
            'Announce letter case: ``"all"`` letters, only ``"lower"`` or ``"upper"`` '
            'case ones, or ``"none"``; None for Asterisk\'s default (none).'
        ),
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_DIGITS = CommandDoc(
    "SAY DIGITS <digits> <escape_digits>",
    f"""\
Say a string of digits one at a time, in the channel's language.

{_SAY_NOT_INTERRUPTED}""",
    params={
        "digits": (
            'The digits to say; it must start with a number (``"12*3"`` works, ``"*12"`` '
            "does not: Asterisk checks the start with ``%d``)."
        ),
        "escape_digits": _ESCAPE_DIGITS,
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_NUMBER = CommandDoc(
    "SAY NUMBER <number> <escape_digits> [gender]",
    f"""\
Say a number ("forty-two"), in the channel's language.

{_SAY_NOT_INTERRUPTED}""",
    params={
        "number": "The number (32-bit).",
        "escape_digits": _ESCAPE_DIGITS,
        "gender": 'Language-specific gender or case, e.g. ``"f"``, ``"m"``, ``"n"``, ``"c"``.',
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_PHONETIC = CommandDoc(
    "SAY PHONETIC <string> <escape_digits>",
    f"""\
Spell a string with the phonetic alphabet ("alfa bravo").

{_SAY_NOT_INTERRUPTED}""",
    params={
        "text": "The characters to spell.",
        "escape_digits": _ESCAPE_DIGITS,
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

_WHEN_32_DOC = "Unix time (int, 32-bit) or an aware datetime; said in the system's time zone."

SAY_DATE = CommandDoc(
    "SAY DATE <epoch> <escape_digits>",
    """\
Say the date of a point in time (weekday, month, day), in the channel's language.

Not interrupted by a new command line. Use ``say_datetime`` for another time zone or format.""",
    params={
        "when": _WHEN_32_DOC,
        "escape_digits": _ESCAPE_DIGITS,
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_TIME = CommandDoc(
    "SAY TIME <epoch> <escape_digits>",
    """\
Say the time of day of a point in time, in the channel's language.

Not interrupted by a new command line. Use ``say_datetime`` for another time zone or format.""",
    params={
        "when": _WHEN_32_DOC,
        "escape_digits": _ESCAPE_DIGITS,
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_DATETIME = CommandDoc(
    "SAY DATETIME <epoch> <escape_digits> [format] [timezone]",
    """\
Say a point in time in a given format and time zone, in the channel's language.

Asterisk's default format is ``ABdY 'digits/at' IMp`` (``A dBY HMS`` for language ``de``). When a
time zone is sent without a format, Asterisk needs a format word before it: the general default
``ABdY 'digits/at' IMp`` is sent, so pass ``format`` yourself on ``de`` channels. An unknown zone
is not an error (Asterisk falls back to UTC). Not interrupted by a new command line.""",
    params={
        "when": "Unix time (int, 64-bit) or an aware datetime.",
        "escape_digits": _ESCAPE_DIGITS,
        "format": (
            "A ``SayUnixTime``/voicemail.conf format such as ``\"ABdY 'digits/at' IMp\"``; "
            "None for Asterisk's default for the channel language."
        ),
        "timezone": (
            'A zoneinfo name such as ``"Europe/Berlin"``; None for the zone of ``when`` when '
            "it is a datetime with a named zone (``ZoneInfo``, UTC), else the system zone."
        ),
    },
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SEND_IMAGE = CommandDoc(
    "SEND IMAGE <image>",
    """\
Send an image, on channels that support images.

Asterisk reports success whenever the channel is still up, whether or not the channel could
show the image.""",
    params={
        "image": "The image file, without extension.",
    },
    raises_doc="CommandFailed: the channel hung up (``result=-1``).",
)

SEND_TEXT = CommandDoc(
    "SEND TEXT <text>",
    """\
Send a text message, on channels that carry text.

Asterisk's documentation says unsupported channels answer 0; in fact they answer -1, which
counts as a failure (``AGISTATUS=FAILURE``; under Async AGI it ends the session).""",
    params={
        "text": "The text; an empty string sends nothing.",
    },
    raises_doc="CommandFailed: the channel cannot carry text, or it hung up (``result=-1``).",
)

SET_AUTOHANGUP = CommandDoc(
    "SET AUTOHANGUP <seconds>",
    """\
Hang the channel up automatically after a time.

When the time comes the channel is hung up like any other hangup: the AGI gets the hangup
notification, and commands that need a live channel fail from then on.""",
    params={
        "seconds": "Hang up this many seconds from now (fractions allowed); None or 0 cancels.",
    },
)

SET_CALLERID = CommandDoc(
    "SET CALLERID <callerid>",
    """\
Set the caller ID name and number of this channel.

Both are set: a part that is missing becomes empty. The number is normalised by Asterisk
(``ast_shrink_phone_number``: spaces, dashes and parentheses are removed).""",
    params={
        "callerid": '``\'"Name" <number>\'``, ``"Name <number>"`` or a bare number.',
    },
)

SET_CONTEXT = CommandDoc(
    "SET CONTEXT <context>",
    """\
Set the dialplan context to continue in when the AGI ends.

Not checked by Asterisk. Without ``set_priority`` the dialplan continues at the current priority
plus one.""",
    params={
        "context": "The dialplan context.",
    },
)

SET_EXTENSION = CommandDoc(
    "SET EXTENSION <extension>",
    """\
Set the extension to continue at when the AGI ends.

Not checked by Asterisk. Without ``set_priority`` the dialplan continues at the current priority
plus one.""",
    params={
        "extension": "The extension.",
    },
)

SET_MUSIC = CommandDoc(
    "SET MUSIC <on|off> [class]",
    """\
Start or stop music on hold on the channel.

Asterisk always answers success, even when ``res_musiconhold`` is not loaded. Playing a file
stops the music, and it is not restarted afterwards.""",
    params={
        "on": "True starts music on hold, False stops it.",
        "music_class": "The music-on-hold class; None for ``default``. Only used when starting.",
    },
)

SET_PRIORITY = CommandDoc(
    "SET PRIORITY <priority|label>",
    """\
Set the priority to continue at when the AGI ends.

The dialplan resumes at exactly this priority (unlike ``set_context``/``set_extension`` alone,
which resume at the current priority plus one).""",
    params={
        "priority": "A priority number, or a label in the current context and extension.",
    },
    raises_doc="UsageError: the label does not exist in the current context and extension.",
)

SET_VARIABLE = CommandDoc(
    "SET VARIABLE <name> <value>",
    """\
Set a channel variable, or write a dialplan function.

Any value round-trips exactly through ``get_variable`` (up to 1023 bytes) or
``get_full_variable``, except CR, LF and NUL, which AGI cannot carry. Works on a dead channel.""",
    params={
        "name": (
            "The variable (``_NAME``/``__NAME`` for inheritance) or a function to write, such "
            'as ``"CALLERID(name)"``.'
        ),
        "value": "The value; numbers are sent as str().",
    },
)

STREAM_FILE = CommandDoc(
    "STREAM FILE <filename> <escape_digits> [sample_offset]",
    """\
Play a file; an escape digit stops it.

Keys that are not escape digits are ignored. Music on hold is stopped (and not restarted). Sets
``PLAYBACKSTATUS`` to ``SUCCESS``, or ``FAILED`` for anything else, a digit included (left
unchanged when the file does not exist). A video file of the same name is played too.""",
    params={
        "filename": (
            "The file to play, without extension (absolute, or relative to the sounds "
            "directory; the channel language picks the variant)."
        ),
        "escape_digits": _ESCAPE_DIGITS,
        "sample_offset": "Start this many samples into the file (8000 per second for 8 kHz files).",
    },
    returns_doc="A :class:`~agikit.results.PlaybackResult`: the escape digit pressed (None if "
    "played to the end) and ``endpos``, the position reached in samples.",
    raises_doc="CommandFailed: the file does not exist, or the channel hung up (``result=-1``).",
)

CONTROL_STREAM_FILE = CommandDoc(
    "CONTROL STREAM FILE <filename> <escape_digits> [skipms] [ffchar] [rewchr] [pausechr] "
    "[offsetms]",
    """\
Play a file the caller can fast-forward, rewind, pause and stop with keys.

Sets ``CPLAYBACKSTATUS`` (``SUCCESS``, ``USERSTOPPED``, ``REMOTESTOPPED`` or ``ERROR``),
``CPLAYBACKOFFSET`` (the same position as ``endpos_ms``) and ``CPLAYBACKSTOPKEY``. Not
interrupted by a new command line, and no EAGI audio flows while it plays.""",
    params={
        "filename": "The file to play, without extension.",
        "escape_digits": 'Keys that stop playback (0-9 * # A-D); "" for none.',
        "skip": "Seconds to skip forward or back per key press; None for 3 s.",
        "forward": "Fast-forward key(s); None for ``#``.",
        "rewind": "Rewind key(s); None for ``*``.",
        "pause": "Pause/resume key(s); None for none.",
        "offset": "Start this many seconds into the file; negative counts back from the end.",
    },
    returns_doc="A :class:`~agikit.results.ControlPlaybackResult`: the stop key pressed (None "
    "if none) and ``endpos_ms``, where playback stopped in milliseconds (None at the end of the "
    "file; Asterisk computes it for 8 kHz files).",
    raises_doc="CommandFailed: the file does not exist, an error, or the channel hung up "
    "(``result=-1``).",
)

TDD_MODE = CommandDoc(
    "TDD MODE <on|off|tdd|mate>",
    """\
Switch TDD (telecommunications device for the deaf) mode on the channel.

Only channels with a TDD option (such as DAHDI) accept it.""",
    params={
        "mode": (
            'True or ``"on"``/``"tdd"`` to enable, False or ``"off"`` to disable, '
            '``"mate"`` for TDD mate mode.'
        ),
    },
    returns_doc="True if the channel accepted the mode, False if it has no TDD support.",
)

VERBOSE = CommandDoc(
    "VERBOSE <message> [level]",
    """\
Log a message to Asterisk's verbose log, prefixed with the AGI's application data.

Works on a dead channel.""",
    params={
        "message": "The message (spaces and all: it is sent quoted).",
        "level": "Verbosity level needed to show it; None for 0 (always shown).",
    },
)

WAIT_FOR_DIGIT = CommandDoc(
    "WAIT FOR DIGIT <timeout>",
    """\
Wait for the caller to press a key; any key counts.

EAGI audio keeps flowing while it waits. DTMF pressed while no command runs is lost, so keep a
command like this one running when you expect input.""",
    params={
        "timeout": (
            "Seconds to wait; 0 returns at once; None (or inf, or a negative number) waits forever."
        ),
    },
    returns_doc="The key pressed, None on timeout, or a :class:`~agikit.results.StreamControl` "
    "word when a stream-control frame (AMI ``ControlPlayback``) arrived.",
    raises_doc="CommandFailed: the channel hung up (``result=-1``). ProtocolError: Asterisk "
    "answered ``result=1``, meaning another command line arrived while it waited.",
)

_SPEECH_FLAG = "True on success, False on failure or when there is no speech object."

SPEECH_CREATE = CommandDoc(
    "SPEECH CREATE [engine]",
    """\
Create the speech recognition object of this AGI session.

The other SPEECH commands use it. There is one per session; it is destroyed when the session
ends.""",
    params={
        "engine": "The speech engine; None for the default engine.",
    },
    returns_doc="True when created; False when the engine does not exist (or no engine is "
    "loaded) or a speech object already exists in this session.",
)

SPEECH_SET = CommandDoc(
    "SPEECH SET <name> <value>",
    """\
Change a setting of the speech engine.""",
    params={
        "name": "The engine setting.",
        "value": "Its value; numbers are sent as str().",
    },
    returns_doc=_SPEECH_FLAG,
)

SPEECH_DESTROY = CommandDoc(
    "SPEECH DESTROY",
    """\
Destroy the speech object of this session. Works on a dead channel.""",
    returns_doc="True when destroyed, False when there was none.",
)

SPEECH_LOAD_GRAMMAR = CommandDoc(
    "SPEECH LOAD GRAMMAR <name> <path>",
    """\
Load a grammar into the speech engine.""",
    params={
        "name": "The name to load the grammar under.",
        "path": "The grammar file.",
    },
    returns_doc=_SPEECH_FLAG,
)

SPEECH_UNLOAD_GRAMMAR = CommandDoc(
    "SPEECH UNLOAD GRAMMAR <name>",
    """\
Unload a grammar from the speech engine. Works on a dead channel.""",
    params={
        "name": "The grammar's name.",
    },
    returns_doc=_SPEECH_FLAG,
)

SPEECH_ACTIVATE_GRAMMAR = CommandDoc(
    "SPEECH ACTIVATE GRAMMAR <name>",
    """\
Activate a loaded grammar for recognition.""",
    params={
        "name": "The grammar's name.",
    },
    returns_doc=_SPEECH_FLAG,
)

SPEECH_DEACTIVATE_GRAMMAR = CommandDoc(
    "SPEECH DEACTIVATE GRAMMAR <name>",
    """\
Deactivate a grammar.""",
    params={
        "name": "The grammar's name.",
    },
    returns_doc=_SPEECH_FLAG,
)

SPEECH_RECOGNIZE = CommandDoc(
    "SPEECH RECOGNIZE <prompt> <timeout> [offset]",
    """\
Play a prompt and recognise speech (or a key) with the session's speech object.

The channel's read format is switched to slin; the engine's processing sound plays while it
works. Not interrupted by a new command line, and no EAGI audio flows during it.""",
    params={
        "prompt": "The prompt to play (barge-in stops it).",
        "timeout": (
            "Whole seconds to wait after the prompt ends; None (or 0) for no timeout. Asterisk "
            "counts this one in seconds, not milliseconds."
        ),
        "offset": "Start the prompt this many samples in.",
    },
    returns_doc='A :class:`~agikit.results.SpeechResult`: ``outcome`` (``"speech"``, '
    '``"digit"`` or ``"timeout"``), ``hypotheses`` (score, text, grammar), the ``digit`` '
    "that barged in, and ``endpos``.",
    raises_doc="Hangup: the channel hung up during recognition (Asterisk still answers "
    "``result=1``, with ``(hangup)``). CommandFailed: there is no speech object, or the read "
    "format could not be set (``result=0``).",
)

GOSUB = CommandDoc(
    "GOSUB <context> <extension> <priority|label> [argument-string]",
    """\
Run a dialplan subroutine and wait until it returns.

Asterisk answers ``100 result=0 Trying...`` when the subroutine starts and the final reply when
it ends. It needs ``app_stack`` (else :class:`~agikit.errors.InvalidCommand`). Read the value
given to ``Return()`` with ``get_variable("GOSUB_RETVAL")``.""",
    params={
        "context": "The subroutine's context.",
        "extension": "Its extension.",
        "priority": "Its priority number or label.",
        "arguments": (
            "Arguments for ``${ARG1}``, ``${ARG2}`` ..., joined with commas into the one "
            "argument word Asterisk takes (commas inside an argument split it)."
        ),
    },
    returns_doc="A :class:`~agikit.results.GosubResult`: ``returned`` is False when the "
    "subroutine ended without ``Return()`` (hangup, fell off the end).",
    raises_doc="CommandFailed: the context, extension, priority or label does not exist "
    "(``Gosub label not found``), the subroutine could not start, or Asterisk ran out of "
    "memory (503).",
)
