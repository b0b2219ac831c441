"""The environment block: real ones from the transcripts, edge cases, and a round trip."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agikit.protocol import AgiSession, Environment, EnvironmentReceived, State

from . import _transcripts


def parse(block: bytes) -> Environment:
    """The environment the session reads from ``block`` (fed whole)."""
    session = AgiSession()
    events = session.receive_data(block)
    assert len(events) == 1 and isinstance(events[0], EnvironmentReceived)
    assert session.state == State.IDLE
    assert session.environment is events[0].environment
    return events[0].environment


def test_fastagi_environment() -> None:
    block = _transcripts.environment_block("fastagi_basic.transcript.txt")
    env = parse(block)
    assert env.network is True
    assert env.network_script == "basic?origin=dialplan&n=1"
    assert env.script_path == "basic"
    assert env.query_string == "origin=dialplan&n=1"
    assert env.query == {"origin": ["dialplan"], "n": ["1"]}
    assert env.request == "agi://127.0.0.1:4573/basic?origin=dialplan&n=1"
    assert env.channel == "Local/basic@fastagi-00000000;2"
    assert env.language == "en"
    assert env.type == "Local"
    assert env.uniqueid == "1795794709.1"
    assert env.version == "22.10.1+dfsg+~cs6.17.60671434-1"
    assert env.callerid == "1000"
    assert env.calleridname == "Harness"
    assert (env.callingpres, env.callingani2, env.callington, env.callingtns) == (0, 0, 0, 0)
    assert env.dnid == "unknown"
    assert env.rdnis == "unknown"
    assert env.context == "fastagi"
    assert env.extension == "basic"
    assert env.priority == 3
    assert env.enhanced is False
    assert env.accountcode == ""
    assert env.threadid == 139730795767488
    assert env.args == ("first arg", "second")
    assert list(env.raw)[:2] == ["agi_network", "agi_network_script"]
    assert env.raw["agi_accountcode"] == ""
    assert env.to_bytes() == block


def test_process_agi_environment() -> None:
    block = _transcripts.environment_block("procagi_basic.transcript.txt")
    env = parse(block)
    assert env.network is False
    assert env.network_script is None
    assert env.script_path == ""
    assert env.query_string == ""
    assert env.query == {}
    assert env.request == "basic.py"
    assert env.context == "procagi"
    assert env.args == ("first arg", "second")
    assert "agi_network" not in env.raw
    assert env.to_bytes() == block


def test_eagi_environment() -> None:
    block = _transcripts.environment_block("eagi_default.transcript.txt")
    env = parse(block)
    assert env.enhanced is True
    assert env.raw["agi_enhanced"] == "1.0"
    assert env.args == ("",)  # one argument, empty
    assert env.priority == 2
    assert env.to_bytes() == block


def test_async_agi_environment() -> None:
    block = (_transcripts.DIRECTORY / "asyncagi.env-decoded.txt").read_bytes()
    env = parse(block)
    assert env.request == "async"
    assert env.network is False
    assert env.args == ("async", "second")
    assert env.to_bytes() == block


@pytest.mark.parametrize("name", _transcripts.names())
def test_every_transcript_environment_round_trips(name: str) -> None:
    block = _transcripts.environment_block(name)
    env = parse(block)
    assert env.to_bytes() == block
    assert env.channel and env.uniqueid and env.version
    assert env.network is name.startswith(("fastagi", "cmd", "peer"))


def test_empty_values_and_separators() -> None:
    env = parse(
        b"agi_request: x.py\n"
        b"agi_accountcode: \n"  # empty value: the trailing space is the separator's
        b"agi_calleridname:  two leading\n"  # only one space is dropped
        b"agi_context: a: b: c\n"  # ": " inside the value
        b"agi_extension:nospace\n"  # tolerated
        b"agi_language\n"  # no colon at all: tolerated, empty value
        b"agi_arg_1: \n"
        b"agi_arg_2: x\n"
        b"agi_arg_3: \n"
        b"agi_future_field: 42\n"  # unknown keys are kept
        b"\n"
    )
    assert env.accountcode == ""
    assert env.calleridname == " two leading"
    assert env.context == "a: b: c"
    assert env.extension == "nospace"
    assert env.language == ""
    assert env.args == ("", "x", "")
    assert env.raw["agi_future_field"] == "42"
    assert env.raw["agi_language"] == ""


def test_args_are_in_numeric_order() -> None:
    pairs = [(f"agi_arg_{n}", f"v{n}") for n in (1, 2, 10, 3, 11, 9)]
    env = Environment(pairs)
    assert env.args == ("v1", "v2", "v3", "v9", "v10", "v11")


def test_not_quite_arg_names_are_not_args() -> None:
    env = Environment(
        [
            ("agi_arg_1", "a"),
            ("agi_arg_", "b"),
            ("agi_arg_x", "c"),
            ("agi_arg_²", "d"),
            ("agi_arg_\u0661", "e"),  # ARABIC-INDIC DIGIT ONE
        ]
    )
    assert env.args == ("a",)


def test_invalid_utf8_is_kept_losslessly() -> None:
    block = b"agi_calleridname: Jos\xe9 \xff\xfe\nagi_arg_1: caf\xc3\xa9\n\n"
    env = parse(block)
    assert env.calleridname == "Jos\udce9 \udcff\udcfe"
    assert env.args == ("café",)
    assert env.to_bytes() == block


def test_numbers_that_are_not_numbers_are_zero() -> None:
    env = Environment({"agi_priority": "", "agi_callingpres": "x", "agi_threadid": "-"})
    assert (env.priority, env.callingpres, env.threadid) == (0, 0, 0)


@pytest.mark.parametrize(
    ("script", "path", "query_string", "query"),
    [
        (
            "ivr/main?lang=en&x=1&x=2",
            "ivr/main",
            "lang=en&x=1&x=2",
            {"lang": ["en"], "x": ["1", "2"]},
        ),
        ("ivr/main", "ivr/main", "", {}),
        ("ivr?", "ivr", "", {}),
        ("a?b=&c", "a", "b=&c", {"b": [""], "c": [""]}),
        ("a?q=%C3%A9+x&r=a%26b", "a", "q=%C3%A9+x&r=a%26b", {"q": ["é x"], "r": ["a&b"]}),
        ("a?x=1?y=2", "a", "x=1?y=2", {"x": ["1?y=2"]}),
    ],
)
def test_script_path_and_query(
    script: str, path: str, query_string: str, query: dict[str, list[str]]
) -> None:
    env = Environment({"agi_network": "yes", "agi_network_script": script})
    assert env.script_path == path
    assert env.query_string == query_string
    assert env.query == query


def test_environment_is_immutable() -> None:
    env = Environment({"agi_channel": "PJSIP/a-1", "agi_arg_1": "x"})
    with pytest.raises(AttributeError):
        env.channel = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del env.channel  # type: ignore[misc]
    with pytest.raises(AttributeError):
        env.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        env.raw["agi_channel"] = "other"  # type: ignore[index]
    assert isinstance(env.args, tuple)
    env.query["x"] = ["changed"]  # a fresh dict each time: the environment is unchanged
    assert env.query == {}
    assert env.channel == "PJSIP/a-1"


def test_equality_hash_copy_pickle() -> None:
    pairs = [("agi_channel", "PJSIP/a-1"), ("agi_arg_1", "x\udcff")]
    env = Environment(pairs)
    assert env == Environment(dict(pairs))
    assert hash(env) == hash(Environment(pairs))
    assert env != Environment(pairs[:1])
    for clone in (copy.copy(env), copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert clone == env
        assert clone.args == ("x\udcff",)
    assert "PJSIP/a-1" in repr(env)


def test_an_empty_block_is_an_empty_environment() -> None:
    env = parse(b"\n")
    assert env.raw == {}
    assert env.args == ()
    assert env.channel == ""


# -- round trip: Environment -> to_bytes -> the session's parser -> the same Environment ----------
_key = st.text(
    alphabet=st.characters(blacklist_characters=":\n", blacklist_categories=("Cs",)), max_size=20
)
_value = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",))),
    st.binary().map(lambda raw: raw.replace(b"\n", b"").decode("utf-8", "surrogateescape")),
    st.sampled_from(["", " ", "  x", "a: b", "unknown", "0.0", "1.0"]),
)


@given(
    st.lists(
        st.one_of(
            st.tuples(_key, _value),
            st.tuples(
                st.sampled_from(
                    ["agi_arg_1", "agi_arg_2", "agi_priority", "agi_enhanced", "agi_network_script"]
                ),
                _value,
            ),
        ),
        unique_by=lambda pair: pair[0],
        max_size=30,
    )
)
@settings(max_examples=300)
def test_round_trip_through_the_wire(pairs: list[tuple[str, str]]) -> None:
    env = Environment(pairs)
    block = env.to_bytes()
    again = parse(block)
    assert again == env
    assert list(again.raw.items()) == pairs
    assert again.args == env.args
    assert again.to_bytes() == block
    # and in arbitrary pieces
    session = AgiSession()
    events = []
    for index in range(len(block)):
        events.extend(session.receive_data(block[index : index + 1]))
    assert events == [EnvironmentReceived(env)]


# -- FastAGI's standard block: read by one match, its fields served from it -----------------------
_FASTAGI_NAMES = [
    *("agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language"),
    *("agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname"),
    *("agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns"),
    *("agi_dnid", "agi_rdnis", "agi_context", "agi_extension", "agi_priority"),
    *("agi_enhanced", "agi_accountcode", "agi_threadid"),
]
_FIELDS = [
    name
    for name, value in vars(Environment).items()
    if isinstance(value, property) and name not in ("raw", "query")
]


def _fields(env: Environment) -> dict[str, object]:
    return {name: getattr(env, name) for name in _FIELDS}


@given(
    st.lists(_value, min_size=len(_FASTAGI_NAMES), max_size=len(_FASTAGI_NAMES)),
    st.lists(_value, max_size=3),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=300)
def test_a_fastagi_block_reads_as_its_lines_do(
    values: list[str], args: list[str], dict_first: bool, script: bool
) -> None:
    values[0] = "yes"  # agi_network: what marks a FastAGI block
    pairs = list(zip(_FASTAGI_NAMES, values, strict=True))
    if not script:  # Asterisk sends agi_network_script only for a URL with a path
        del pairs[1]
    pairs += [(f"agi_arg_{index}", arg) for index, arg in enumerate(args, 1)]
    block = Environment(pairs).to_bytes()
    whole = parse(block)
    # byte by byte: the line by line reading, which builds the dict of lines at once
    session = AgiSession()
    for index in range(len(block)):
        session.receive_data(block[index : index + 1])
    assert session.environment is not None
    by_line = session.environment
    if dict_first:  # whatever builds the lines first, the fields come out the same
        assert list(whole.raw.items()) == pairs
    assert _fields(whole) == _fields(by_line)
    assert whole == by_line and hash(whole) == hash(by_line)
    assert list(whole.raw.items()) == pairs
    assert whole.args == tuple(args)
    assert whole.to_bytes() == block
    assert pickle.loads(pickle.dumps(whole)) == by_line
    assert _fields(copy.copy(whole)) == _fields(by_line)
