"""Every AGI command of Asterisk 22, proved on real calls through agikit's own API.

Each scenario below is an agikit handler (``SyncCall``, and ``Call`` for the database) that runs as
a process-AGI script on the ``;2`` half of a Local channel in the harness Asterisk, while the far
end (the ``;1`` half) waits, plays, sends DTMF, hangs up, or runs a second agikit script that
exchanges text with it. The scripts record agikit's typed results and errors (the objects
themselves, see ``livecalls.py``) and the tests assert on them, on the channel variables reported
at hangup and on Asterisk's log of the call. All calls are placed at once and run side by side.

What a Local channel (or this harness) cannot exercise, and why:

- ANSWER failing (``result=-1``): a Local channel always answers.
- ASYNCAGI BREAK's effect: it ends only an Async AGI session, which is not process AGI; here it
  must do nothing, which is checked.
- CHANNEL STATUS states other than Down (0), Ring (4) and Up (6): a Local channel never goes
  through Reserved, OffHook, Dialing, Ringing, Busy ... states.
- CONTROL STREAM FILE stopped remotely (``REMOTESTOPPED``), and WAIT FOR DIGIT / playback
  interrupted by stream-control frames (codes 1000-1004): they need AMI ``ControlPlayback`` or
  ARI, and app_controlplayback is not loaded.
- DATABASE PUT/DEL reporting a database error (``result=0``): needs a failing AstDB.
- EXEC of an application returning 1, 2 or 3 (the 520 block after the reply, a failure, the end of
  an Async AGI session): no standard application does.
- GOSUB ``Gosub failed`` and ``503 result=-2``: need an allocation failure in Asterisk.
- RECEIVE CHAR ``result=0 (timeout)``: practically unreachable, a timeout answers ``-1`` like a
  hangup (so agikit returns None for both, checked).
- SEND TEXT / RECEIVE TEXT on a channel without text support (``-1``): Local carries text frames
  between its halves, so only the success paths and timeouts run here.
- RECORD FILE ``(randomerror)`` (a key during the 0.44 s beep: too tight to time reliably from a
  dialplan far end) and ``(waitfor)`` (an internal wait error).
- SEND IMAGE success that means anything: no channel type here shows images; Asterisk answers
  success whenever the channel is up.
- SET MUSIC's audio: only res_musiconhold's own log lines show that music started and stopped.
- SPEECH * success and every SPEECH RECOGNIZE result shape: no speech engine is loaded, so only
  the "no engine / no speech object" answers are checked.
- TDD MODE accepted (``result=1``): needs a TDD-capable channel such as DAHDI.
- A second command line interrupting a running command: agikit never sends one (one command at a
  time per call), so those replies cannot occur through its API.
"""

from __future__ import annotations

import re
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agikit.commands import COMMANDS
from agikit.errors import (
    AGIError,
    ArgumentError,
    CommandFailed,
    Hangup,
    InvalidCommand,
    UsageError,
)
from agikit.protocol.replies import Reply
from agikit.results import (
    ChannelState,
    ControlPlaybackResult,
    DigitsResult,
    GosubResult,
    PlaybackResult,
    RecordResult,
)
from agikit.testing.asterisk import Asterisk, FarEnd

from .livecalls import CHROOT_RESULTS, FAR_AGI, LiveCalls, LiveRun, Scenario
from .test_command_table_live import parse_agi_show_commands

RUN = uuid.uuid4().hex[:8]
FAMILY = f"agikit live (db) {RUN}"
DEAD_FAMILY = f"agikit-live-dead-{RUN}"
REC = f"{CHROOT_RESULTS}/rec_{RUN}"  # recordings, as the chroot sees agi-bin/results
UNKNOWN_CHANNEL = "Local/nobody@agikit-nowhere-00000000;1"
BEEP_SAMPLES = 3520  # beep.gsm: 22 GSM frames of 160 samples
CONGRATS_SAMPLES = 242240  # demo-congrats.gsm: about 30 s
EPOCH_NOON = 1699963200  # Tue 2023-11-14 12:00:00 UTC: a Tuesday in every zone from -11 to +11
EPOCH_LATE = 1700000000  # Tue 2023-11-14 22:13:20 UTC = Wed 07:13:20 in Asia/Tokyo
LONG_VALUE = "".join(chr(ord("a") + i % 26) for i in range(1500))
CONSTANTS = {
    "FAMILY": FAMILY,
    "DEAD_FAMILY": DEAD_FAMILY,
    "REC": REC,
    "UNKNOWN_CHANNEL": UNKNOWN_CHANNEL,
    "EPOCH_NOON": EPOCH_NOON,
    "EPOCH_LATE": EPOCH_LATE,
    "LONG_VALUE": LONG_VALUE,
}


def scenario(name: str, body: str, **options: object) -> Scenario:
    return Scenario(name, body, constants=CONSTANTS, **options)  # type: ignore[arg-type]


# -- the calls ---------------------------------------------------------------------------------

BASICS = """
def main(call):
    me = call.env.channel
    peer = me[:-1] + "1"
    record("me", me)
    record("uniqueid", call.env.uniqueid)

    # CHANNEL STATUS before and after ANSWER; the far end starts only once we answer.
    attempt("status_before", call.channel_status)
    attempt("peer_status_before", call.channel_status, peer)
    attempt("answer", call.answer)
    attempt("answer_again", call.answer)
    attempt("status_after", call.channel_status)
    attempt("status_by_name", call.channel_status, me)
    attempt("peer_status_after", call.channel_status, peer)
    attempt("status_unknown", call.channel_status, UNKNOWN_CHANNEL)
    attempt("status_uniqueid", call.channel_status, call.env.uniqueid)

    # ASYNCAGI BREAK does nothing outside Async AGI: the session goes on.
    attempt("asyncagi_break", call.asyncagi_break)
    attempt("noop", call.noop)
    attempt("noop_text", call.noop, "agikit live marker (noop)")
    attempt("verbose", call.verbose, 'agikit live "verbose" (level 1) \\\\ done', 1)
    attempt("verbose_default", call.verbose, "agikit live verbose, level 0")

    # GET VARIABLE / SET VARIABLE
    attempt("var_channel", call.get_variable, "CHANNEL")
    attempt("var_unset", call.get_variable, "AGIKIT_NEVER_SET")
    attempt("set_empty", call.set_variable, "AGIKIT_EMPTY", "")
    attempt("var_empty", call.get_variable, "AGIKIT_EMPTY")
    attempt("var_function", call.get_variable, "LEN(agikit live)")
    attempt("var_unknown_function", call.get_variable, "AGIKIT_NO_SUCH_FUNCTION(x)")
    attempt("set_long", call.set_variable, "AGIKIT_LONG", LONG_VALUE)
    attempt("var_long", call.get_variable, "AGIKIT_LONG")
    attempt("set_long_utf8", call.set_variable, "AGIKIT_LONG_UTF8", "\\u00e9" * 600)
    attempt("var_long_utf8", call.get_variable, "AGIKIT_LONG_UTF8")
    attempt("set_report", call.set_variable, "AGIKIT_FROM_SCRIPT", 'set by "agikit" (live) 42')

    # GET FULL VARIABLE
    attempt("full_expr", call.get_full_variable, "${CHANNEL}|${EXTEN}|${CONTEXT}|${LEN(abc)}")
    attempt("full_bare", call.get_full_variable, "CHANNEL")
    attempt("full_empty", call.get_full_variable, "${AGIKIT_NEVER_SET}")
    attempt("full_long", call.get_full_variable, "${AGIKIT_LONG}")
    attempt("full_peer", call.get_full_variable, "${CHANNEL}|${CONTEXT}", peer)
    attempt("full_uniqueid", call.get_full_variable, "${CHANNEL}", call.env.uniqueid)
    attempt("full_unknown", call.get_full_variable, "${CHANNEL}", UNKNOWN_CHANNEL)

    # SET CALLERID
    attempt("set_callerid", call.set_callerid, '"Agi Kit" <+1 (555) 010-9999>')
    attempt("callerid", call.get_full_variable, "${CALLERID(name)}|${CALLERID(num)}")
    attempt("set_callerid_number", call.set_callerid, "5551234")
    attempt("callerid_number", call.get_full_variable, "${CALLERID(name)}|${CALLERID(num)}")

    # EXEC
    attempt("exec_wait", call.exec, "Wait", "0.1")
    attempt("exec_mset", call.exec, "MSet", "AGIKIT_E1=one", "AGIKIT_E2=two words")
    attempt("exec_joined", call.exec, "MSet", "AGIKIT_E3=three,AGIKIT_E4=(four)")
    attempt("exec_vars", call.get_full_variable,
            "${AGIKIT_E1}|${AGIKIT_E2}|${AGIKIT_E3}|${AGIKIT_E4}")
    attempt("exec_literal", call.exec, "Set", "AGIKIT_EXEC_RAW=${CHANNEL}")
    attempt("exec_literal_value", call.get_variable, "AGIKIT_EXEC_RAW")
    call.set_variable("AGIEXECFULL", "yes")
    attempt("exec_full", call.exec, "Set", "AGIKIT_EXEC_FULL=${CHANNEL}")
    attempt("exec_full_value", call.get_variable, "AGIKIT_EXEC_FULL")
    call.set_variable("AGIEXECFULL", "no")
    attempt("exec_unknown", call.exec, "AgikitNoSuchApplication", "x")

    # GOSUB into the harness's agikit-sub context
    attempt("gosub", call.gosub, "agikit-sub", "s", 1)
    attempt("gosub_retval", call.get_variable, "GOSUB_RETVAL")
    attempt("gosub_args", call.gosub, "agikit-sub", "s", 1, "x1", "two words")
    attempt("gosub_args_seen", call.get_full_variable, "${GOSUB_RETVAL}|${AGIKIT_SUB_ARGS}")
    attempt("gosub_label", call.gosub, "agikit-sub", "s", "second", "y")
    attempt("gosub_label_retval", call.get_variable, "GOSUB_RETVAL")
    attempt("gosub_fall", call.gosub, "agikit-sub", "fall", 1)
    attempt("gosub_fall_after", call.get_full_variable, "${GOSUB_RETVAL}|${CHANNEL(state)}")
    attempt("gosub_no_exten", call.gosub, "agikit-sub", "agikit-no-such-exten", 1)
    attempt("gosub_no_priority", call.gosub, "agikit-sub", "s", 7)
    attempt("gosub_no_label", call.gosub, "agikit-sub", "s", "agikit-no-such-label")
    attempt("gosub_no_context", call.gosub, "agikit-no-such-context", "s", 1)

    # HANGUP of a channel that does not exist
    attempt("hangup_unknown", call.hangup, UNKNOWN_CHANNEL)

    # Playback without keys: to the end, with an offset, a missing file
    attempt("stream_end", call.stream_file, "beep")
    attempt("stream_end_status", call.get_variable, "PLAYBACKSTATUS")
    attempt("stream_offset", call.stream_file, "beep", "", 1760)
    attempt("stream_missing", call.stream_file, "agikit-no-such-file")
    attempt("stream_missing_status", call.get_variable, "PLAYBACKSTATUS")
    attempt("option_end", call.get_option, "beep", "1", 0)
    attempt("option_missing", call.get_option, "agikit-no-such-file", "1", 0)
    attempt("csf_end", call.control_stream_file, "beep")
    attempt("csf_end_vars", call.get_full_variable, "${CPLAYBACKSTATUS}|${CPLAYBACKOFFSET}")
    attempt("csf_missing", call.control_stream_file, "agikit-no-such-file")
    attempt("csf_missing_vars", call.get_full_variable, "${CPLAYBACKSTATUS}")

    # SEND IMAGE, TDD MODE: no channel here supports them
    attempt("send_image", call.send_image, "agikit-image")
    attempt("tdd_on", call.tdd_mode, True)
    attempt("tdd_mate", call.tdd_mode, "mate")
    attempt("tdd_off", call.tdd_mode, False)

    # SPEECH: res_speech is loaded, but no engine
    attempt("speech_create", call.speech_create)
    attempt("speech_create_engine", call.speech_create, "agikit-no-such-engine")
    attempt("speech_set", call.speech_set, "confidence", 50)
    attempt("speech_load", call.speech_load_grammar, "digits", "/agikit/no-such-grammar.gram")
    attempt("speech_activate", call.speech_activate_grammar, "digits")
    attempt("speech_deactivate", call.speech_deactivate_grammar, "digits")
    attempt("speech_unload", call.speech_unload_grammar, "digits")
    attempt("speech_recognize", call.speech_recognize, "beep", 1)
    attempt("speech_destroy", call.speech_destroy)

    # Arguments agikit refuses before sending, and ones Asterisk rejects (520), and 510
    attempt("bad_say_digits", call.say_digits, "*12")
    attempt("bad_say_number", call.say_number, 2**31)
    attempt("bad_newline", call.set_variable, "AGIKIT_X", "two\\nlines")
    attempt("bad_case", call.say_alpha, "abc", "", "sideways")
    attempt("bad_escape", call.stream_file, "beep", "a")
    attempt("bad_timeout", call.wait_for_digit, float("nan"))
    attempt("usage_raw", call.raw, "SAY NUMBER", "forty-two", "")
    attempt("invalid_raw", call.raw, "AGIKIT NO SUCH COMMAND")
    attempt("raw_noop", call.raw, "NOOP", "through raw()")
    attempt("still_up", call.channel_status)

agikit.run(main)
"""

SAY_FINISH = """
import datetime, zoneinfo

def main(call):
    call.answer()
    attempt("alpha", call.say_alpha, "aB1")
    attempt("alpha_upper", call.say_alpha, "aB1", "", "upper")
    attempt("digits", call.say_digits, "12*3")
    attempt("number", call.say_number, 42)
    attempt("number_negative", call.say_number, -7, "", "f")
    attempt("phonetic", call.say_phonetic, "ab")
    attempt("time", call.say_time, EPOCH_NOON)
    attempt("datetime_utc", call.say_datetime, EPOCH_LATE, "", "A", "UTC")
    attempt("datetime_tokyo", call.say_datetime, EPOCH_LATE, "", "A", "Asia/Tokyo")
    tokyo = datetime.datetime.fromtimestamp(EPOCH_LATE, zoneinfo.ZoneInfo("Asia/Tokyo"))
    attempt("datetime_aware", call.say_datetime, tokyo, "", "A")

agikit.run(main)
"""

# Dates are long to say (weekday, month, day, year): a call of their own.
SAY_DATES = """
import datetime

def main(call):
    call.answer()
    attempt("date", call.say_date, EPOCH_NOON)
    attempt("date_aware", call.say_date, datetime.datetime(2023, 11, 14, 12, tzinfo=datetime.UTC))
    attempt("datetime_zone_only", call.say_datetime, EPOCH_LATE, "", None, "Asia/Tokyo")

agikit.run(main)
"""

DATABASE = """
async def main(call):
    F = FAMILY
    await attempt_async("put", call.database_put, F, "key", "value (two)")
    await attempt_async("get", call.database_get, F, "key")
    await attempt_async("put_empty", call.database_put, F, "empty", "")
    await attempt_async("get_empty", call.database_get, F, "empty")
    await attempt_async("put_number", call.database_put, F, "number", 42)
    await attempt_async("get_number", call.database_get, F, "number")
    await attempt_async("get_missing", call.database_get, F, "agikit-no-such-key")
    await attempt_async("del", call.database_del, F, "key")
    await attempt_async("get_deleted", call.database_get, F, "key")
    await attempt_async("del_missing", call.database_del, F, "agikit-no-such-key")
    await call.database_put(F, "sub/a", "1")
    await call.database_put(F, "sub/b", "2")
    await attempt_async("deltree_sub", call.database_deltree, F, "sub")
    await attempt_async("get_sub", call.database_get, F, "sub/a")
    await attempt_async("get_outside_sub", call.database_get, F, "number")
    await attempt_async("deltree_sub_again", call.database_deltree, F, "sub")
    await attempt_async("deltree", call.database_deltree, F)
    await attempt_async("get_after_deltree", call.database_get, F, "number")
    await attempt_async("deltree_again", call.database_deltree, F)

agikit.run(main)
"""

# The far end sends each key about a second after the previous one; every command that waits
# for a key is running by then (the previous key ended the command before it).
KEYS_DIGITS = """
def main(call):
    call.answer()
    attempt("wait_zero", call.wait_for_digit, 0)
    attempt("wait_timeout", call.wait_for_digit, 0.3)
    attempt("data_nothing", call.get_data, "", 0.5)
    attempt("wait_digit", call.wait_for_digit, 10)      # 7
    attempt("data_max", call.get_data, "beep", 5, 3)    # 123
    attempt("data_hash_first", call.get_data, "", 5)    # #
    attempt("wait_letter", call.wait_for_digit, 10)     # A
    attempt("data_partial", call.get_data, "", 3)       # 45, then nothing

agikit.run(main)
"""
KEYS_DIGITS_FAR = [
    FarEnd.wait(1.5), FarEnd.dtmf("7"),
    FarEnd.wait(1), FarEnd.dtmf("123"),
    FarEnd.wait(1), FarEnd.dtmf("#"),
    FarEnd.wait(1), FarEnd.dtmf("A"),
    FarEnd.wait(1), FarEnd.dtmf("45"),
]  # fmt: skip

KEYS_PLAYBACK = """
def main(call):
    call.answer()
    attempt("stream_key", call.stream_file, "demo-congrats", "5")             # 1 ignored, 5
    attempt("stream_key_status", call.get_variable, "PLAYBACKSTATUS")
    attempt("stream_offset_key", call.stream_file, "demo-congrats", "6", 80000)  # 6
    attempt("option_key", call.get_option, "beep", "8", 10)                   # 8, after the beep
    attempt("csf_forward", call.control_stream_file, "demo-congrats", "3", 10, "#")  # #, 3
    attempt("csf_forward_vars", call.get_full_variable,
            "${CPLAYBACKSTATUS}|${CPLAYBACKSTOPKEY}|${CPLAYBACKOFFSET}")
    attempt("csf_rewind", call.control_stream_file,
            "demo-congrats", "9", 10, None, "*", None, 20)                    # *, 9

agikit.run(main)
"""
KEYS_PLAYBACK_FAR = [
    FarEnd.wait(1), FarEnd.dtmf("1"),
    FarEnd.wait(1), FarEnd.dtmf("5"),
    FarEnd.wait(1), FarEnd.dtmf("6"),
    FarEnd.wait(1.5), FarEnd.dtmf("8"),
    FarEnd.wait(1), FarEnd.dtmf("#"),
    FarEnd.wait(1), FarEnd.dtmf("3"),
    FarEnd.wait(1), FarEnd.dtmf("*"),
    FarEnd.wait(1), FarEnd.dtmf("9"),
]  # fmt: skip

# Short prompts (date, time) are repeated until their key comes, so the far end's timing
# does not depend on how long each one plays.
KEYS_SAY = """
def until_key(key, method, *args):
    for tries in range(1, 9):
        try:
            digit = method(*args)
        except AGIError as error:
            return record(key, error)
        if digit is not None:
            record(key + " tries", tries)
            return record(key, digit)
    return record(key, None)

def main(call):
    call.answer()
    until_key("alpha", call.say_alpha, "abcdefghijklmnopqrstuvwxyz", "1")
    until_key("digits", call.say_digits, "12345678901234567890", "2")
    until_key("number", call.say_number, 987654321, "3")
    until_key("phonetic", call.say_phonetic, "abcdefghijklmnop", "4")
    until_key("date", call.say_date, EPOCH_NOON, "5")
    until_key("time", call.say_time, EPOCH_NOON, "6")
    until_key("datetime", call.say_datetime, EPOCH_NOON, "7")

agikit.run(main)
"""
KEYS_SAY_FAR = [step for key in "1234567" for step in (FarEnd.wait(1), FarEnd.dtmf(key))]

RECORD = """
import time

def main(call):
    call.answer()
    attempt("dtmf", call.record_file, REC + "-dtmf", "wav", "#", 10)
    start = time.monotonic()
    attempt("silence", call.record_file, REC + "-silence", "wav", "", 8, None, False, 1)
    record("silence_seconds", time.monotonic() - start)
    first = attempt("timeout", call.record_file, REC + "-timeout", "wav", "", 1)
    attempt("append", call.record_file, REC + "-timeout", "wav", "", 1, first.endpos)
    attempt("beep", call.record_file, REC + "-beep", "wav", "", 1, None, True)
    attempt("gsm", call.record_file, REC + "-gsm", "gsm", "", 1)
    attempt("no_dir", call.record_file, REC + "-no-such-dir/x", "wav", "", 1)
    attempt("bad_format", call.record_file, REC + "-bad", "agikitnoformat", "", 1)

agikit.run(main)
"""
RECORD_FAR = [FarEnd.play("hello-world"), FarEnd.dtmf("#"), FarEnd.play("silence/10")]

TEXT = """
import time

def main(call):
    call.answer()
    attempt("text", call.receive_text, 6)
    attempt("char", call.receive_char, 6)
    time.sleep(1)  # the far end is in RECEIVE TEXT by now
    attempt("send", call.send_text, 'from agikit: "quoted" \\\\ (\\u00fcn\\u00ef) ok')
    attempt("char_utf8", call.receive_char, 6)
    attempt("text_timeout", call.receive_text, 0.3)
    attempt("char_timeout", call.receive_char, 0.3)
    attempt("text_zero", call.receive_text, 0)
    attempt("send_empty", call.send_text, "")

agikit.run(main)
"""
TEXT_FAR = """
import time

def main(call):
    time.sleep(1)  # the AGI side waits in RECEIVE TEXT
    attempt("send_text", call.send_text, 'hello (from) the "peer" \\\\ \\u00fcn\\u00ef')
    time.sleep(1)  # ... then in RECEIVE CHAR
    attempt("send_char", call.send_text, "Zebra")
    attempt("received", call.receive_text, 6)
    time.sleep(0.5)  # the AGI side waits in RECEIVE CHAR again
    attempt("send_utf8", call.send_text, "\\u00e9lan")

agikit.run(main)
"""

MUSIC_AUTOHANGUP = """
import time

def main(call):
    call.answer()
    attempt("music_on", call.set_music, True)
    attempt("music_wait", call.wait_for_digit, 1)
    attempt("music_off", call.set_music, False)
    attempt("music_class", call.set_music, True, "default")
    attempt("music_stream", call.stream_file, "beep")
    attempt("autohangup_set", call.set_autohangup, 0.5)
    attempt("autohangup_cancel", call.set_autohangup, None)
    attempt("still_alive", call.wait_for_digit, 1.5)
    attempt("autohangup", call.set_autohangup, 1.5)
    start = time.monotonic()
    attempt("cut_off", call.wait_for_digit, 10)
    record("cut_off_seconds", time.monotonic() - start)
    record("hung_up", call.hung_up)
    attempt("dead_set", call.set_variable, "AGIKIT_AFTER_AUTOHANGUP", "yes")

agikit.run(main)
"""

HANGUP_SELF = """
def main(call):
    call.answer()
    attempt("hangup", call.hangup)
    attempt("after", call.answer)
    record("hung_up", call.hung_up)
    attempt("dead_get", call.get_variable, "CHANNEL")
    attempt("dead_set", call.set_variable, "AGIKIT_AFTER_HANGUP", "yes")

agikit.run(main)
"""

HANGUP_PEER = """
import time

def main(call):
    call.answer()
    peer = call.env.channel[:-1] + "1"
    attempt("peer_status", call.channel_status, peer)
    attempt("hangup_peer", call.hangup, peer)
    start = time.monotonic()
    attempt("after", call.wait_for_digit, 10)
    record("after_seconds", time.monotonic() - start)
    record("hung_up", call.hung_up)

agikit.run(main)
"""

HANGUP_UNIQUEID = """
def main(call):
    call.answer()
    attempt("hangup", call.hangup, call.env.uniqueid)
    attempt("after", call.wait_for_digit, 10)
    record("hung_up", call.hung_up)

agikit.run(main)
"""

EXEC_HANGUP = """
def main(call):
    call.answer()
    attempt("exec", call.exec, "Hangup")
    attempt("after", call.answer)
    record("hung_up", call.hung_up)

agikit.run(main)
"""

GOSUB_HANGUP = """
def main(call):
    call.answer()
    attempt("gosub", call.gosub, "agikit-sub", "hangup", 1)
    attempt("after", call.answer)
    record("hung_up", call.hung_up)

agikit.run(main)
"""

RESUME = {
    # name: (the commands, where agikit-resume's priorities show the dialplan went on)
    "resume-context": ('call.set_context("agikit-resume")', "s/3|s/4|"),
    "resume-extension": (
        'call.set_context("agikit-resume"); call.set_extension("other")',
        "other/3|other/4|",
    ),
    "resume-priority": (
        'call.set_context("agikit-resume"); call.set_extension("other"); call.set_priority(2)',
        "other/2|other/3|other/4|",
    ),
    "resume-label": (
        'call.set_context("agikit-resume"); '
        'attempt("unknown_label", call.set_priority, "agikit-no-such-label"); '
        'call.set_priority("mark")',
        "s/4|",
    ),
}


def resume_body(commands: str) -> str:
    return f"""
def main(call):
    {commands}
    record("done", True)

agikit.run(main)
"""


# Every command on a dead channel: through its Call method, then as a bare line via raw().
DEAD = """
def main(call):
    call.answer()
    attempt("record", call.record_file, REC + "-hangup", "wav", "#", 10)
    attempt("noop_after", call.noop)
    record("hung_up", call.hung_up)
    commands = [
        ("ANSWER", call.answer, ()),
        ("ASYNCAGI BREAK", call.asyncagi_break, ()),
        ("CHANNEL STATUS", call.channel_status, ()),
        ("CONTROL STREAM FILE", call.control_stream_file, ("beep",)),
        ("DATABASE PUT", call.database_put, (DEAD_FAMILY, "key", "dead value")),
        ("DATABASE GET", call.database_get, (DEAD_FAMILY, "key")),
        ("DATABASE DEL", call.database_del, (DEAD_FAMILY, "key")),
        ("DATABASE DELTREE", call.database_deltree, (DEAD_FAMILY,)),
        ("EXEC", call.exec, ("Set", "AGIKIT_DEAD_EXEC=ran")),
        ("GET DATA", call.get_data, ("beep", 1, 1)),
        ("GET FULL VARIABLE", call.get_full_variable, ("${CHANNEL}",)),
        ("GET OPTION", call.get_option, ("beep", "1", 0)),
        ("GET VARIABLE", call.get_variable, ("CHANNEL",)),
        ("GOSUB", call.gosub, ("agikit-sub", "s", 1)),
        ("HANGUP", call.hangup, ()),
        ("NOOP", call.noop, ("dead",)),
        ("RECEIVE CHAR", call.receive_char, (0.1,)),
        ("RECEIVE TEXT", call.receive_text, (0.1,)),
        ("RECORD FILE", call.record_file, (REC + "-dead", "wav", "", 0.5)),
        ("SAY ALPHA", call.say_alpha, ("a",)),
        ("SAY DATE", call.say_date, (EPOCH_NOON,)),
        ("SAY DATETIME", call.say_datetime, (EPOCH_NOON,)),
        ("SAY DIGITS", call.say_digits, ("1",)),
        ("SAY NUMBER", call.say_number, (1,)),
        ("SAY PHONETIC", call.say_phonetic, ("a",)),
        ("SAY TIME", call.say_time, (EPOCH_NOON,)),
        ("SEND IMAGE", call.send_image, ("agikit-image",)),
        ("SEND TEXT", call.send_text, ("dead",)),
        ("SET AUTOHANGUP", call.set_autohangup, (5,)),
        ("SET CALLERID", call.set_callerid, ("5551234",)),
        ("SET CONTEXT", call.set_context, ("agikit-resume",)),
        ("SET EXTENSION", call.set_extension, ("other",)),
        ("SET MUSIC", call.set_music, (True,)),
        ("SET PRIORITY", call.set_priority, (1,)),
        ("SET VARIABLE", call.set_variable, ("AGIKIT_DEAD_SET", "yes")),
        ("SPEECH ACTIVATE GRAMMAR", call.speech_activate_grammar, ("g",)),
        ("SPEECH CREATE", call.speech_create, ()),
        ("SPEECH DEACTIVATE GRAMMAR", call.speech_deactivate_grammar, ("g",)),
        ("SPEECH DESTROY", call.speech_destroy, ()),
        ("SPEECH LOAD GRAMMAR", call.speech_load_grammar, ("g", "/agikit/no-such.gram")),
        ("SPEECH RECOGNIZE", call.speech_recognize, ("beep", 1)),
        ("SPEECH SET", call.speech_set, ("name", "value")),
        ("SPEECH UNLOAD GRAMMAR", call.speech_unload_grammar, ("g",)),
        ("STREAM FILE", call.stream_file, ("beep",)),
        ("TDD MODE", call.tdd_mode, (True,)),
        ("VERBOSE", call.verbose, ("agikit live: verbose on a dead channel",)),
        ("WAIT FOR DIGIT", call.wait_for_digit, (0.1,)),
    ]
    for name, method, args in commands:
        attempt("api " + name, method, *args)
    for name, _, _ in commands:
        attempt("raw " + name, call.raw, name)

agikit.run(main)
"""

SCENARIOS = [
    scenario("basics", BASICS, report=["AGIKIT_FROM_SCRIPT"]),
    scenario("say-finish", SAY_FINISH),
    scenario("say-dates", SAY_DATES),
    scenario("database", DATABASE),
    scenario("keys-digits", KEYS_DIGITS, far_end=KEYS_DIGITS_FAR),
    scenario("keys-playback", KEYS_PLAYBACK, far_end=KEYS_PLAYBACK_FAR),
    scenario("keys-say", KEYS_SAY, far_end=KEYS_SAY_FAR),
    scenario("record", RECORD, far_end=RECORD_FAR),
    scenario("text", TEXT, far_end=[FAR_AGI], far_body=TEXT_FAR),
    scenario("music-autohangup", MUSIC_AUTOHANGUP, report=["AGIKIT_AFTER_AUTOHANGUP"]),
    scenario("hangup-self", HANGUP_SELF, report=["AGIKIT_AFTER_HANGUP"]),
    scenario("hangup-peer", HANGUP_PEER),
    scenario("hangup-uniqueid", HANGUP_UNIQUEID),
    scenario("exec-hangup", EXEC_HANGUP),
    scenario("gosub-hangup", GOSUB_HANGUP),
    *(
        scenario(name, resume_body(commands), report=["AGIKIT_RESUMED"])
        for name, (commands, _) in RESUME.items()
    ),
    scenario(
        "dead",
        DEAD,
        far_end=[FarEnd.play("hello-world"), FarEnd.hangup()],
        report=["AGIKIT_DEAD_EXEC", "AGIKIT_DEAD_SET"],
    ),
]


@pytest.fixture(scope="module")
def live(asterisk: Asterisk) -> Iterator[LiveCalls]:
    calls = LiveCalls(asterisk, SCENARIOS)
    yield calls
    calls.close()


# -- helpers -----------------------------------------------------------------------------------


def failed(value: object, kind: type[AGIError], reply: str | None = None) -> bool:
    """``value`` is exactly a ``kind`` error (and Asterisk's reply starts with ``reply``)."""
    if type(value) is not kind:
        return False
    if reply is None:
        return True
    answer = getattr(value, "reply", None)
    return isinstance(answer, Reply) and answer.raw_text.startswith(reply)


@dataclass
class Segment:
    """One command in Asterisk's log (``agi set debug on``): its line and what followed it."""

    command: str
    lines: list[str]

    def played(self) -> list[str]:
        return [m.group(1) for line in self.lines if (m := _PLAYING.search(line))]

    def text(self) -> str:
        return "\n".join(self.lines)


_PLAYING = re.compile(r"Playing '([^']+)\.\w+' \(language")
_RX = re.compile(r"AGI Rx << (.*)$")


def segments(run: LiveRun) -> list[Segment]:
    found: list[Segment] = []
    for line in run.call.log:
        match = _RX.search(line)
        if match:
            found.append(Segment(match.group(1), []))
        elif found:
            found[-1].lines.append(line)
    return found


def commands_starting(run: LiveRun, prefix: str) -> list[Segment]:
    return [segment for segment in segments(run) if segment.command.startswith(prefix)]


def wav_frames(path: Path) -> int:
    with wave.open(str(path)) as recording:
        frames: int = recording.getnframes()
    return frames


# -- the tests ---------------------------------------------------------------------------------


def test_every_command_is_exercised() -> None:
    """Each of the 47 commands has its Call method used by some scenario."""
    bodies = "\n".join(s.body + (s.far_body or "") for s in SCENARIOS)
    assert len(COMMANDS) == 47
    missing = [
        command.name
        for command in COMMANDS
        if f"call.{command.name.lower().replace(' ', '_')}" not in bodies
    ]
    assert missing == []


def test_answer_and_channel_status(live: LiveCalls) -> None:
    run = live["basics"]
    me = run["me"]
    assert me == run.call.channel
    assert run["status_before"] == ChannelState.RING
    assert isinstance(run["status_before"], ChannelState)
    assert run["peer_status_before"] == ChannelState.DOWN
    assert run["answer"] is None
    assert run["answer_again"] is None
    assert run["status_after"] == ChannelState.UP
    assert run["status_after"].name == "UP"
    assert run["status_by_name"] == ChannelState.UP
    assert run["peer_status_after"] == ChannelState.UP
    assert run["status_unknown"] is None
    assert run["status_uniqueid"] is None  # CHANNEL STATUS takes names only
    assert run["still_up"] == ChannelState.UP


def test_asyncagi_break_noop_and_verbose(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["asyncagi_break"] is None
    assert run["noop"] is None  # the session went on after ASYNCAGI BREAK
    assert run["noop_text"] is None
    assert run["verbose"] is None
    assert run["verbose_default"] is None
    assert run.call.after_agi  # ASYNCAGI BREAK did not end the process AGI
    log = run.call.log_text()
    assert ': agikit live "verbose" (level 1) \\ done' in log
    assert ": agikit live verbose, level 0" in log
    assert "AGI Rx << NOOP" in log and "agikit live marker (noop)" in log


def test_get_and_set_variable(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["var_channel"] == run["me"]
    assert run["var_unset"] is None
    assert run["set_empty"] is None
    assert run["var_empty"] == ""
    assert run["var_function"] == "11"
    assert run["var_unknown_function"] is None
    assert run["set_long"] is None
    assert run["var_long"] == LONG_VALUE[:1023]  # GET VARIABLE cuts at 1023 bytes
    # ... bytes, not characters: the cut splits the 512th "é", whose lone first byte comes back
    # as a surrogate rather than an error.
    assert run["var_long_utf8"] == "é" * 511 + "\udcc3"
    assert run["set_report"] is None
    assert run.call.variables["AGIKIT_FROM_SCRIPT"] == 'set by "agikit" (live) 42'


def test_get_full_variable(live: LiveCalls) -> None:
    run = live["basics"]
    me = run["me"]
    peer = me[:-1] + "1"
    assert run["full_expr"] == f"{me}|s|agikit-process|3"
    assert run["full_bare"] == "CHANNEL"  # only ${...} is expanded
    assert run["full_empty"] == ""
    assert run["full_long"] == LONG_VALUE  # no 1023-byte cut
    assert run["full_peer"] == f"{peer}|agikit-far"
    assert run["full_uniqueid"] == me  # a unique ID works here
    assert run["full_unknown"] is None


def test_set_callerid(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["set_callerid"] is None
    assert run["callerid"] == "Agi Kit|+15550109999"  # the number is shrunk by Asterisk
    assert run["set_callerid_number"] is None
    assert run["callerid_number"] == "|5551234"  # the missing name becomes empty


def test_exec(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["exec_wait"] == 0
    assert run["exec_mset"] == 0
    assert run["exec_joined"] == 0
    # The options were joined with commas into one word, which the application split again.
    assert run["exec_vars"] == "one|two words|three|(four)"
    assert run["exec_literal"] == 0
    assert run["exec_literal_value"] == "${CHANNEL}"  # not substituted without AGIEXECFULL
    assert run["exec_full"] == 0
    assert run["exec_full_value"] == run["me"]
    assert failed(run["exec_unknown"], CommandFailed, "200 result=-2")


def test_gosub(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["gosub"] == GosubResult(True, "Gosub complete")
    assert run["gosub_retval"] == "ret-"
    assert run["gosub_args"] == GosubResult(True, "Gosub complete")
    assert run["gosub_args_seen"] == "ret-x1|x1|two words|2"
    assert run["gosub_label"].returned is True
    assert run["gosub_label_retval"] == "label-y"
    assert run["gosub_fall"] == GosubResult(False, "Gosub complete (abnormal exit)")
    assert run["gosub_fall_after"] == "|Up"  # no return value, and the channel is still up
    for key in ("gosub_no_exten", "gosub_no_priority", "gosub_no_label", "gosub_no_context"):
        assert failed(run[key], CommandFailed, "200 result=-1 Gosub label not found"), key


def test_gosub_into_a_subroutine_that_hangs_up(live: LiveCalls) -> None:
    run = live["gosub-hangup"]
    assert run["gosub"] == GosubResult(False, "Gosub complete (abnormal exit)")
    assert isinstance(run["after"], Hangup)
    assert run["hung_up"] is True


def test_database(live: LiveCalls) -> None:
    run = live["database"]
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run["put"] is None
    assert run["get"] == "value (two)"
    assert run["get_empty"] == ""
    assert run["get_number"] == "42"
    assert run["get_missing"] is None
    assert run["del"] is None
    assert run["get_deleted"] is None
    assert run["del_missing"] is None  # Asterisk says 1 for a missing key too
    # DELTREE: Asterisk answers 0 when it deleted something and 1 when not; agikit says True/False.
    assert run["deltree_sub"] is True
    assert run["get_sub"] is None
    assert run["get_outside_sub"] == "42"
    assert run["deltree_sub_again"] is False
    assert run["deltree"] is True
    assert run["get_after_deltree"] is None
    assert run["deltree_again"] is False
    deltrees = commands_starting(run, "DATABASE DELTREE")
    assert [seg.lines[0].split("AGI Tx >> ")[1] for seg in deltrees] == [
        "200 result=0",
        "200 result=1",
        "200 result=0",
        "200 result=1",
    ]


def test_playback_without_keys(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["stream_end"] == PlaybackResult(None, BEEP_SAMPLES)
    assert run["stream_end_status"] == "SUCCESS"
    assert run["stream_offset"] == PlaybackResult(None, BEEP_SAMPLES)
    assert failed(run["stream_missing"], CommandFailed, "200 result=-1 endpos=0")
    assert run["stream_missing_status"] == "SUCCESS"  # left unchanged by a missing file
    assert run["option_end"] == PlaybackResult(None, BEEP_SAMPLES)
    assert failed(run["option_missing"], CommandFailed, "200 result=-1")
    assert run["csf_end"] == ControlPlaybackResult(None, None)
    assert run["csf_end"].position is None
    assert run["csf_end_vars"] == "SUCCESS|-1"
    assert failed(run["csf_missing"], CommandFailed, "200 result=-1 endpos=-1")
    assert run["csf_missing_vars"] == "ERROR"


def test_wait_for_digit_and_get_data(live: LiveCalls) -> None:
    run = live["keys-digits"]
    assert run["wait_zero"] is None
    assert run["wait_timeout"] is None
    assert run["data_nothing"] == DigitsResult("", True)
    assert run["wait_digit"] == "7"
    assert run["data_max"] == DigitsResult("123", False)
    assert run["data_hash_first"] == DigitsResult("", False)
    assert run["wait_letter"] == "A"
    assert run["data_partial"] == DigitsResult("45", True)


def test_playback_stopped_by_keys(live: LiveCalls) -> None:
    run = live["keys-playback"]
    stopped = run["stream_key"]
    assert isinstance(stopped, PlaybackResult)
    assert stopped.digit == "5"  # the 1 before it is not an escape digit
    assert 0 < stopped.endpos < CONGRATS_SAMPLES
    assert run["stream_key_status"] == "FAILED"  # a digit interrupt counts as FAILED
    offset = run["stream_offset_key"]
    assert offset.digit == "6" and 80000 < offset.endpos < CONGRATS_SAMPLES
    assert run["option_key"] == PlaybackResult("8", BEEP_SAMPLES)  # key in the wait after it

    forward = run["csf_forward"]
    assert isinstance(forward, ControlPlaybackResult)
    assert forward.digit == "3"
    # A few seconds of playing, plus one 10 s skip forward.
    assert forward.endpos_ms is not None and 10000 < forward.endpos_ms < 20000
    assert run["csf_forward_vars"] == f"USERSTOPPED|3|{forward.endpos_ms}"
    rewind = run["csf_rewind"]
    assert rewind.digit == "9"
    # Started 20 s in, a few seconds of playing, one 10 s skip back.
    assert rewind.endpos_ms is not None and 10000 < rewind.endpos_ms < 20000


def said(run: LiveRun, keys: list[str]) -> dict[str, list[str]]:
    """The files each SAY command of ``run`` played, by the keys of the commands in order."""
    for key in keys:
        assert run[key] is None, key  # played to the end
    played = [segment.played() for segment in commands_starting(run, "SAY ")]
    assert len(played) == len(keys)
    return dict(zip(keys, played, strict=True))


def test_say_commands_play_to_the_end(live: LiveCalls) -> None:
    run = live["say-finish"]
    keys = [
        "alpha", "alpha_upper", "digits", "number", "number_negative", "phonetic", "time",
        "datetime_utc", "datetime_tokyo", "datetime_aware",
    ]  # fmt: skip
    played = said(run, keys)
    assert played["alpha"] == ["letters/a", "letters/b", "digits/1"]
    assert "letters/b" in played["alpha_upper"]
    assert len(played["alpha_upper"]) > len(played["alpha"])  # "uppercase" is announced
    assert played["digits"] == ["digits/1", "digits/2", "digits/star", "digits/3"]
    assert played["number"] == ["digits/40", "digits/2"]
    assert played["number_negative"] == ["digits/minus", "digits/7"]
    assert played["phonetic"] == ["phonetic/a_p", "phonetic/b_p"]
    assert played["time"]
    # The same instant is a Tuesday in UTC and a Wednesday in Tokyo.
    assert played["datetime_utc"] == ["digits/day-2"]
    assert played["datetime_tokyo"] == ["digits/day-3"]
    assert played["datetime_aware"] == ["digits/day-3"]  # the zone of the datetime was sent


def test_say_date_and_a_time_zone_without_format(live: LiveCalls) -> None:
    run = live["say-dates"]
    played = said(run, ["date", "date_aware", "datetime_zone_only"])
    assert played["date"][:3] == ["digits/day-2", "digits/mon-10", "digits/14"]
    assert played["date_aware"] == played["date"]
    # A zone without a format: agikit sends Asterisk's default format before it.
    assert played["datetime_zone_only"][:3] == ["digits/day-3", "digits/mon-10", "digits/h-15"]
    assert "digits/at" in played["datetime_zone_only"]


def test_say_commands_stopped_by_an_escape_digit(live: LiveCalls) -> None:
    run = live["keys-say"]
    for key, digit in [
        ("alpha", "1"),
        ("digits", "2"),
        ("number", "3"),
        ("phonetic", "4"),
        ("date", "5"),
        ("time", "6"),
        ("datetime", "7"),
    ]:
        assert run[key] == digit, (key, run.raw["near"])


def test_argument_usage_and_invalid_command_errors(live: LiveCalls) -> None:
    run = live["basics"]
    for key in ("bad_say_digits", "bad_say_number", "bad_newline", "bad_case", "bad_escape"):
        assert failed(run[key], ArgumentError), (key, run[key])
    assert failed(run["bad_timeout"], ArgumentError)
    usage = run["usage_raw"]
    assert failed(usage, UsageError, "520-Invalid command syntax.")
    assert "Say a given number" in usage.usage
    invalid = run["invalid_raw"]
    assert failed(invalid, InvalidCommand, "510 ")
    assert invalid.reply.code == 510
    raw_noop = run["raw_noop"]
    assert isinstance(raw_noop, Reply) and raw_noop.code == 200 and raw_noop.result == "0"
    # Nothing was sent for the arguments agikit refused.
    sent = [segment.command for segment in segments(run)]
    assert not any(command.startswith(("SAY DIGITS", "SAY ALPHA")) for command in sent)


def test_record_file(live: LiveCalls, asterisk: Asterisk) -> None:
    run = live["record"]
    results = asterisk.agi_bin / "results"

    def host(name: str, extension: str = "wav") -> Path:
        return results / f"rec_{RUN}-{name}.{extension}"

    dtmf = run["dtmf"]
    assert isinstance(dtmf, RecordResult)
    assert (dtmf.outcome, dtmf.digit) == (RecordResult.DTMF, "#")
    assert dtmf.endpos > 4000  # most of hello-world (1.4 s) was recorded
    assert wav_frames(host("dtmf")) == dtmf.endpos

    silence = run["silence"]
    assert (silence.outcome, silence.digit) == (RecordResult.TIMEOUT, None)
    assert run["silence_seconds"] < 6  # the 1 s of silence ended it, not the 8 s limit
    assert wav_frames(host("silence")) == silence.endpos

    first, appended = run["timeout"], run["append"]
    assert first.outcome == appended.outcome == RecordResult.TIMEOUT
    assert 4000 < first.endpos <= 8800  # about 1 s at 8 kHz
    assert appended.endpos > first.endpos + 4000  # counted from the offset: the file grew
    assert wav_frames(host("timeout")) == appended.endpos

    beep = run["beep"]
    assert beep.outcome == RecordResult.TIMEOUT and beep.endpos > 0
    [beep_segment] = [s for s in commands_starting(run, "RECORD FILE") if "-beep" in s.command]
    assert beep_segment.played() == ["beep"]
    gsm = run["gsm"]
    assert gsm.outcome == RecordResult.TIMEOUT
    assert host("gsm", "gsm").stat().st_size == gsm.endpos // 160 * 33  # 33 bytes per frame

    assert failed(run["no_dir"], CommandFailed, "200 result=-1 (writefile)")
    assert failed(run["bad_format"], CommandFailed, "200 result=-1 (writefile)")


def test_text_between_the_two_halves(live: LiveCalls) -> None:
    run = live["text"]
    assert run["text"] == 'hello (from) the "peer" \\ ünï'
    assert run["char"] == "Z"
    assert run["send"] is None
    assert run.far["send_text"] is None and run.far["send_char"] is None
    assert run.far["received"] == 'from agikit: "quoted" \\ (ünï) ok'
    assert run["char_utf8"] == "\udcc3"  # the first byte of "élan"
    assert run["text_timeout"] is None
    assert run["char_timeout"] is None  # Asterisk says "-1 (hangup)" for a timeout
    assert run["text_zero"] is None
    assert run["send_empty"] is None


def test_send_image_and_tdd_mode(live: LiveCalls) -> None:
    run = live["basics"]
    assert run["send_image"] is None
    assert run["tdd_on"] is False  # a Local channel has no TDD
    assert run["tdd_mate"] is False
    assert run["tdd_off"] is False


def test_speech_without_an_engine(live: LiveCalls) -> None:
    run = live["basics"]
    for key in (
        "speech_create",
        "speech_create_engine",
        "speech_set",
        "speech_load",
        "speech_activate",
        "speech_deactivate",
        "speech_unload",
        "speech_destroy",
    ):
        assert run[key] is False, key
    assert failed(run["speech_recognize"], CommandFailed, "200 result=0")


def test_set_music(live: LiveCalls) -> None:
    run = live["music-autohangup"]
    for key in ("music_on", "music_off", "music_class"):
        assert run[key] is None, key
    assert run["music_wait"] is None
    started = "Started music on hold, class 'default', on channel"
    [on, *_] = commands_starting(run, "SET MUSIC on")
    assert started in on.text()
    [off] = commands_starting(run, "SET MUSIC off")
    assert "Stopped music on hold on" in off.text()
    [on_class] = [s for s in commands_starting(run, "SET MUSIC on") if "default" in s.command]
    assert started in on_class.text()
    # Playing a file stops the music.
    assert run["music_stream"] == PlaybackResult(None, BEEP_SAMPLES)
    [stream] = commands_starting(run, "STREAM FILE")
    assert "Stopped music on hold on" in stream.text()


def test_set_autohangup(live: LiveCalls) -> None:
    run = live["music-autohangup"]
    assert run["autohangup_set"] is None
    assert run["autohangup_cancel"] is None
    assert run["still_alive"] is None  # the cancelled 0.5 s autohangup did not fire
    assert run["autohangup"] is None
    assert isinstance(run["cut_off"], Hangup)
    assert 0.5 < run["cut_off_seconds"] < 6  # the 1.5 s timer, not the 10 s wait
    assert run["hung_up"] is True
    assert run["dead_set"] is None
    assert run.call.variables["AGIKIT_AFTER_AUTOHANGUP"] == "yes"


def test_hangup_own_channel(live: LiveCalls) -> None:
    run = live["hangup-self"]
    assert run["hangup"] is True
    assert isinstance(run["after"], Hangup)
    assert run["hung_up"] is True
    assert run["dead_get"] == run.call.channel
    assert run["dead_set"] is None
    assert run.call.variables["AGIKIT_AFTER_HANGUP"] == "yes"


def test_hangup_the_peer_by_name(live: LiveCalls) -> None:
    run = live["hangup-peer"]
    assert run["peer_status"] == ChannelState.UP
    assert run["hangup_peer"] is True
    assert isinstance(run["after"], Hangup)  # the Local channel took our half down too
    assert run["after_seconds"] < 5
    assert run["hung_up"] is True


def test_hangup_own_channel_by_unique_id(live: LiveCalls) -> None:
    run = live["hangup-uniqueid"]
    assert run["hangup"] is True
    assert isinstance(run["after"], Hangup)
    assert run["hung_up"] is True


def test_exec_of_an_application_that_hangs_up(live: LiveCalls) -> None:
    run = live["exec-hangup"]
    assert run["exec"] == -1  # the application's own return value: end the call
    assert isinstance(run["after"], Hangup)
    assert run["hung_up"] is True


@pytest.mark.parametrize("name", list(RESUME))
def test_where_the_dialplan_resumes(live: LiveCalls, name: str) -> None:
    run = live[name]
    assert run["done"] is True
    assert run.call.variables["AGIKIT_RESUMED"] == RESUME[name][1], run.call.log_text()
    assert not run.call.after_agi  # the priority after AGI() in agikit-process did not run
    if name == "resume-label":
        assert failed(run["unknown_label"], UsageError, "520")


def test_dead_channel_runs_exactly_the_dead_commands(live: LiveCalls, asterisk: Asterisk) -> None:
    run = live["dead"]
    recorded = run["record"]
    assert isinstance(recorded, RecordResult)
    assert recorded.outcome == RecordResult.HANGUP  # a result, not an error: the file is kept
    assert recorded.endpos > 0
    host = asterisk.agi_bin / "results" / f"rec_{RUN}-hangup.wav"
    assert wav_frames(host) == recorded.endpos
    assert run["noop_after"] is None
    assert run["hung_up"] is True

    listed = parse_agi_show_commands(asterisk.ami.command("agi show commands"))
    dead_column = {name.upper(): dead for name, dead in listed}
    assert len(dead_column) == 47
    wrong = {}
    for name, dead in dead_column.items():
        through_api, through_raw = run[f"api {name}"], run[f"raw {name}"]
        if dead:
            # Allowed: agikit sends it and gets a result (or, for raw() without arguments, 520).
            if isinstance(through_api, AGIError):
                wrong[name] = ("api", through_api)
            if isinstance(through_raw, Hangup):
                wrong[name] = ("raw", through_raw)
        else:
            if not isinstance(through_api, Hangup):
                wrong[name] = ("api", through_api)
            if not failed(through_raw, Hangup, "511 "):
                wrong[name] = ("raw", through_raw)
    assert wrong == {}
    assert run["api EXEC"] == 0
    assert run.call.variables["AGIKIT_DEAD_EXEC"] == "ran"
    assert run.call.variables["AGIKIT_DEAD_SET"] == "yes"
    assert run["api GET VARIABLE"] == run.call.channel
    assert run["api DATABASE GET"] == "dead value"
    assert run["api SPEECH DESTROY"] is False
    assert "agikit live: verbose on a dead channel" in run.call.log_text()
