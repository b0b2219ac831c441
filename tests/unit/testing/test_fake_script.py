"""The fake Asterisk's script: matching, replies, defaults, the environment (no I/O)."""

from __future__ import annotations

import pytest

from agikit import commands
from agikit.testing._fake_script import reply_chunks
from agikit.testing.fake import (
    DEAD_CHANNEL,
    DEFAULT_REPLIES,
    INVALID_COMMAND,
    NO_REPLY,
    FakeAsterisk,
    Raw,
    ScriptError,
    close_stream,
    default_reply,
    end_session,
    expect,
    expect_any,
    expect_rest,
    hangup,
    parse_agi_url,
    usage_reply,
)
from agikit.transcript import show


class TestMatching:
    @pytest.mark.parametrize(
        ("expected", "received"),
        [
            ('STREAM FILE hello-world ""', b'STREAM FILE hello-world ""'),
            ('STREAM FILE hello-world ""', b'stream file hello-world ""'),
            ('STREAM FILE hello-world ""', b'STREAM\tFILE  hello-world ""'),
            ('STREAM FILE hello-world ""', b'"STREAM" FILE "hello-world" ""'),
            ('SET VARIABLE X "a b"', b"SET VARIABLE X a\\ b"),
            ('SET VARIABLE X "a b"', b'SET VARIABLE X a" "b'),
            ('SET VARIABLE X "say \\"hi\\""', b'set variable X say\\ \\"hi\\"'),
            ("GET VARIABLE FOO", b"  GET VARIABLE FOO"),
        ],
    )
    def test_words_read_as_asterisk_reads_them(self, expected: str, received: bytes) -> None:
        assert expect(expected).mismatch(received) is None

    @pytest.mark.parametrize(
        ("expected", "received", "needle"),
        [
            ("GET VARIABLE FOO", b"GET VARIABLE foo", "word 3 (argument): expected 'FOO'"),
            ('STREAM FILE x ""', b"STREAM FILE x", "word 4 (argument): expected '', received"),
            ("ANSWER", b"ANSWER\r", "CR"),
            ("NOOP", b"NOOP extra", "word 2"),
            ("FOO BAR", b"foo bar", "word 1 (argument)"),  # unknown commands: exact words
        ],
    )
    def test_word_differences_are_explained(
        self, expected: str, received: bytes, needle: str
    ) -> None:
        difference = expect(expected).mismatch(received)
        assert difference is not None
        assert needle in difference
        assert "expected words:" in difference and "received words:" in difference

    def test_exact_match_compares_bytes(self) -> None:
        step = expect('SET VARIABLE X "a b"', exact=True)
        assert step.mismatch(b'SET VARIABLE X "a b"') is None
        difference = step.mismatch(b"SET VARIABLE X a\\ b")
        assert difference is not None and "byte 16" in difference

    def test_expect_any_matches_anything(self) -> None:
        assert expect_any().mismatch(b"whatever \xff") is None

    def test_trailing_lf_in_the_expected_line_is_dropped(self) -> None:
        assert expect("ANSWER\n").mismatch(b"ANSWER") is None

    def test_failure_line_hint(self) -> None:
        difference = expect("ANSWER").mismatch(b"failure")
        assert difference is not None and "ends the AGI session" in difference


class TestReplies:
    def test_line_gets_one_lf(self) -> None:
        assert reply_chunks(expect("X", reply="200 result=0").reply) == [b"200 result=0\n"]  # type: ignore[arg-type]
        assert reply_chunks(expect("X", reply="200 result=0\n").reply) == [b"200 result=0\n"]  # type: ignore[arg-type]

    def test_several_lines(self) -> None:
        step = expect("X", reply=["100 result=0 Trying...", b"200 result=0 Gosub complete"])
        assert reply_chunks(step.reply) == [  # type: ignore[arg-type]
            b"100 result=0 Trying...\n",
            b"200 result=0 Gosub complete\n",
        ]
        assert expect("X", reply="a\nb").reply == (b"a", b"b")

    def test_bytes_and_raw(self) -> None:
        assert expect("X", reply=b"200 result=1 (\xff)").reply == (b"200 result=1 (\xff)",)
        assert reply_chunks(Raw(b"200 res")) == [b"200 res"]
        assert reply_chunks(NO_REPLY) == []

    def test_empty_list_is_refused(self) -> None:
        with pytest.raises(ScriptError, match="NO_REPLY"):
            expect("X", reply=[])

    def test_usage_reply(self) -> None:
        assert usage_reply("one\ntwo") == (
            b"520-Invalid command syntax.  Proper usage follows:",
            b"one",
            b"two",
            b"520 End of proper usage.",
        )


class TestDefaults:
    def test_every_command_has_a_default_reply(self) -> None:
        names = {command.name for command in commands.COMMANDS}
        assert names == set(DEFAULT_REPLIES)
        for lines in DEFAULT_REPLIES.values():
            assert lines[-1].startswith(b"200 result=")

    def test_defaults_follow_the_command_table(self) -> None:
        assert default_reply([b"stream", b"file", b"x", b""], dead=False) == (
            b"200 result=0 endpos=0",
        )
        assert default_reply([b"GOSUB", b"c", b"s", b"1"], dead=False)[0].startswith(b"100 ")
        assert default_reply([b"FOO"], dead=False) == (INVALID_COMMAND.encode(),)
        assert default_reply([b"GET"], dead=False) == (INVALID_COMMAND.encode(),)
        assert default_reply([], dead=False) == (INVALID_COMMAND.encode(),)

    def test_dead_channel_uses_the_dead_column(self) -> None:
        for command in commands.COMMANDS:
            words = [word.encode() for word in command.words]
            reply = default_reply(words, dead=True)
            if command.dead_ok:
                assert reply == DEFAULT_REPLIES[command.name]
            else:
                assert reply == (DEAD_CHANNEL.encode(),), command.name
        assert default_reply([b"FOO"], dead=True) == (INVALID_COMMAND.encode(),)


class TestScriptChecks:
    @pytest.mark.parametrize("last", [expect_rest(), close_stream(), end_session()])
    def test_session_enders_must_be_last(self, last: object) -> None:
        with pytest.raises(ScriptError, match="must be the last step"):
            FakeAsterisk([last, expect("ANSWER")])  # type: ignore[list-item]

    def test_non_steps_are_refused(self) -> None:
        with pytest.raises(ScriptError, match="step 2 is not a step"):
            FakeAsterisk([expect("ANSWER"), "NOOP"])  # type: ignore[list-item]

    def test_args_must_be_a_sequence(self) -> None:
        with pytest.raises(TypeError):
            FakeAsterisk(args="one")

    def test_describe(self) -> None:
        assert expect("ANSWER").describe() == "expect 'ANSWER'"
        assert expect("A\r", exact=True).describe() == "expect exactly 'A\\r'"
        assert hangup(delay=0.5).describe() == "hangup after 0.5 s"


class TestEnvironment:
    def test_defaults_in_asterisk_order(self) -> None:
        env = FakeAsterisk(args=["first arg", ""]).environment("app.py")
        keys = list(env.raw)
        assert keys[:3] == ["agi_request", "agi_channel", "agi_language"]
        assert keys[-4:] == ["agi_accountcode", "agi_threadid", "agi_arg_1", "agi_arg_2"]
        assert len(keys) == 22
        assert env.request == "app.py"
        assert env.channel == "PJSIP/alice-00000001"
        assert env.type == "PJSIP"
        assert env.version == "22.10.1"
        assert env.args == ("first arg", "")
        assert env.enhanced is False and env.network is False
        assert b"agi_accountcode: \n" in env.to_bytes()
        assert env.to_bytes().endswith(b"agi_arg_2: \n\n")

    def test_overrides(self) -> None:
        fake = FakeAsterisk(
            env={"channel": "Local/x@y-0001;2", "agi_callerid": "555", "rdnis": None, "x": "1"}
        )
        env = fake.environment("r")
        assert env.channel == "Local/x@y-0001;2" and env.type == "Local"
        assert env.callerid == "555"
        assert "agi_rdnis" not in env.raw
        assert list(env.raw)[-1] == "agi_x"

    def test_fastagi_lines_come_first(self) -> None:
        env = FakeAsterisk().environment("agi://h/ivr?x=1", network_script="ivr?x=1", args=["a"])
        assert list(env.raw)[:3] == ["agi_network", "agi_network_script", "agi_request"]
        assert env.network and env.network_script == "ivr?x=1"
        bare = FakeAsterisk().environment("agi://h", network_script="")
        assert "agi_network_script" not in bare.raw and bare.network

    def test_eagi(self) -> None:
        assert FakeAsterisk().environment("a", enhanced=True).raw["agi_enhanced"] == "1.0"


class TestUrls:
    @pytest.mark.parametrize(
        ("url", "parsed"),
        [
            ("agi://127.0.0.1", ("127.0.0.1", 4573, "")),
            ("AGI://host:4000/ivr/main?lang=en", ("host", 4000, "ivr/main?lang=en")),
            ("agi://[::1]:4001/x", ("::1", 4001, "x")),
            ("agi://[::1]/x", ("::1", 4573, "x")),
            ("agi://host?x=1", ("host?x=1", 4573, "")),  # Asterisk's reading: it fails to resolve
            ("hagi://host:4002/x", ("host", 4002, "x")),
        ],
    )
    def test_parse(self, url: str, parsed: tuple[str, int, str]) -> None:
        assert parse_agi_url(url) == parsed

    @pytest.mark.parametrize("url", ["http://x", "agi://", "agi://h:99999/", "hagi://name/x"])
    def test_refused(self, url: str) -> None:
        with pytest.raises(ValueError):
            parse_agi_url(url)


def test_show_escapes_control_and_invalid_bytes() -> None:
    assert show(b"A\r\t\x00\xff\xc3\xa9") == "A\\r\\t\\x00\\xffé"
    assert show(b"x" * 300, 10) == "xxxxxxxxxx... (300 bytes)"
