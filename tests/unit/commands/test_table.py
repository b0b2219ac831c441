"""The command table against Asterisk's own list, and its internal consistency."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agikit import _command_docs, commands
from agikit._command_docs import CommandDoc
from agikit.commands import COMMANDS, Command, find_command

DATA = Path(__file__).resolve().parent.parent / "data" / "agi-show-commands.txt"
_ROW = re.compile(r"^\s*(Yes|No)\s+(\S.*?)\s{3}(.*)$")


def parse_agi_show_commands(text: str) -> list[tuple[str, bool]]:
    """``(command words, dead)`` rows of ``agi show commands`` output, in its order."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match.group(2), match.group(1) == "Yes"))
    return rows


def table_rows() -> list[tuple[str, bool]]:
    return [(command.name.lower(), command.dead_ok) for command in COMMANDS]


def test_table_matches_agi_show_commands_of_asterisk_22() -> None:
    asterisk = parse_agi_show_commands(DATA.read_text())
    assert len(asterisk) == 47
    assert table_rows() == asterisk


def test_thirteen_commands_run_on_a_dead_channel() -> None:
    dead = {command.name for command in COMMANDS if command.dead_ok}
    assert dead == {
        "ASYNCAGI BREAK",
        "DATABASE DEL",
        "DATABASE DELTREE",
        "DATABASE GET",
        "DATABASE PUT",
        "EXEC",
        "GET FULL VARIABLE",
        "GET VARIABLE",
        "NOOP",
        "SET VARIABLE",
        "VERBOSE",
        "SPEECH DESTROY",
        "SPEECH UNLOAD GRAMMAR",
    }


def test_method_names_are_the_words_joined() -> None:
    methods = [command.method for command in COMMANDS]
    assert len(set(methods)) == 47
    for command in COMMANDS:
        assert command.method == "_".join(command.words).lower()
    assert {"database_deltree", "asyncagi_break", "get_full_variable", "exec"} <= set(methods)
    assert {"speech_recognize", "tdd_mode", "wait_for_digit", "control_stream_file"} <= set(methods)


def test_every_command_is_a_module_constant_named_after_its_words() -> None:
    for command in COMMANDS:
        assert getattr(commands, command.method.upper()) is command


def test_every_command_is_documented() -> None:
    for command in COMMANDS:
        assert command.summary.endswith("."), command
        assert len(command.summary) <= 89, command
        assert command.syntax.split()[: len(command.words)] == list(command.words)
        if command.returns != "None":
            assert command.returns_doc, command
        for param in command.params:
            assert param.doc, (command, param)
            assert param.label == f"{command.method}() argument {param.name!r}"


def test_commands_with_optional_arguments_declare_how_to_fill_gaps() -> None:
    # An absent optional argument followed by a present one needs a word that keeps
    # Asterisk's default (or must not be positional at all).
    fills = {
        (command.name, param.name): param.fill
        for command in COMMANDS
        for param in command.params
        if param.fill is not None
    }
    assert fills == {
        ("GET DATA", "timeout"): "0",
        ("RECORD FILE", "offset"): "0",
        ("SAY DATETIME", "format"): "ABdY 'digits/at' IMp",
        ("CONTROL STREAM FILE", "skip"): "3000",
        ("CONTROL STREAM FILE", "forward"): "",
        ("CONTROL STREAM FILE", "rewind"): "",
        ("CONTROL STREAM FILE", "pause"): "",
    }


def test_the_documentation_covers_exactly_the_table() -> None:
    """The two halves of the table name the same commands, and the same parameters in order."""
    documented = {
        name for name, value in vars(_command_docs).items() if isinstance(value, CommandDoc)
    }
    constants = {name for name, value in vars(commands).items() if isinstance(value, Command)}
    assert documented == constants == {command.method.upper() for command in COMMANDS}
    for command in COMMANDS:
        entry = command.documentation
        assert entry is getattr(_command_docs, command.method.upper())
        assert list(entry.params) == [param.name for param in command.params], command


def test_a_command_builds_its_parameters_once_on_first_use() -> None:
    command = Command(
        ("NEW", "COMMAND"),
        lambda: (commands.Param("text", "str", lambda value, label: value),),
        dead_ok=True,
        parse=lambda reply: None,
        returns="None",
    )
    assert command._params is None
    params = command.params
    assert command.params is params
    assert params[0].command is command
    assert params[0].label == "new_command() argument 'text'"
    assert command.request("hi").line == b"NEW COMMAND hi"


def test_the_table_gives_parameters_as_rows_of_data() -> None:
    def text(value: object, label: str) -> str | None:
        return None if value is None else str(value)

    def joined(values: tuple[str, ...], label: str) -> str | None:
        return ",".join(values) or None

    command = Command(
        ("NEW", "COMMAND"),
        (("one", "str", text), ("two", "str | None", text, None, "x"), ("*rest", "str", joined)),
        dead_ok=True,
        parse=lambda reply: None,
        returns="None",
    )
    one, two, rest = command.params
    assert (one.name, one.annotation, one.required, one.fill) == ("one", "str", True, None)
    assert (two.name, two.default, two.fill, two.required) == ("two", None, "x", False)
    assert (rest.name, rest.variadic, rest.required) == ("rest", True, False)
    assert command.request("a").line == b"NEW COMMAND a"
    assert command.request("a", None, "b", "c").line == b"NEW COMMAND a x b,c"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.method)
def test_find_command_finds_each_command(command: Command[object]) -> None:
    assert find_command(list(command.words)) is command
    assert find_command([word.lower() for word in command.words] + ["arg", "more"]) is command
    assert find_command([word.encode() for word in command.words]) is command
    assert find_command(command.name.title() + ' "quoted arg"') is command


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["GET", "VARIABLE", "X"], commands.GET_VARIABLE),
        (["get", "full", "variable", "${X}"], commands.GET_FULL_VARIABLE),
        (["Get", "Variable"], commands.GET_VARIABLE),
        ([b"stream", b"FILE"], commands.STREAM_FILE),
        (b'"GET" "VARIABLE" HARNESS_VAR', commands.GET_VARIABLE),
        (b"GET\tVARIABLE\tHARNESS_VAR", commands.GET_VARIABLE),
        ("  NOOP with several words", commands.NOOP),
        (["GET"], None),
        (["SAY"], None),
        (["GET", "FULL"], None),
        (["FOO", "BAR"], None),
        ([], None),
        ("", None),
        (["ANSWER\r"], None),  # a CR is not whitespace to Asterisk: it is part of the word
        (["BREA\u212a"], None),  # KELVIN SIGN lowers to "k" in Unicode, not in strcasecmp
        (["ASYNCAGI", "BREA\u212a"], None),
        (["NOOP\ud800"], None),  # no bytes for a lone surrogate
        (["NOOP", "\ud800"], commands.NOOP),
    ],
)
def test_find_command_matches_like_asterisk(words: object, expected: object) -> None:
    assert find_command(words) is expected  # type: ignore[arg-type]
