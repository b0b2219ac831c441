"""The environment block Asterisk sends at the start of every AGI session."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# types.MappingProxyType without importing ``types`` (not in the interpreter's start-up set).
_MappingProxy = type(type.__dict__)


class Environment:
    """What Asterisk told the AGI about the call, typed and immutable.

    Build it from the ``(name, value)`` lines in the order Asterisk sent them, or from a mapping
    of ``agi_*`` names. Text fields are exactly as sent (decoded as UTF-8; undecodable bytes are
    kept as lone surrogates and go back to Asterisk unchanged). Asterisk sends ``unknown`` for an
    empty or invalid caller ID number or name, DNID and RDNIS. Every line, including any this
    class has no field for, is in :attr:`raw`.

    Only the lines are stored: each field is read from them when asked for (a call reads a few
    of its two dozen fields, and a server builds one environment per call). A field whose line
    is missing is ``""`` (text), ``0`` (numbers) or False.
    """

    __slots__ = ("_args", "_lines")
    _lines: "dict[str, str]"
    _args: "tuple[str, ...] | None"

    def __init__(self, lines: "Iterable[tuple[str, str]] | Mapping[str, str]" = ()) -> None:
        _set(self, "_lines", dict(lines.items() if hasattr(lines, "items") else lines))
        _set(self, "_args", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Environment is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Environment is immutable (cannot delete {name})")

    def __reduce__(self) -> "tuple[object, ...]":
        # copy and pickle rebuild it from its lines (the default would go through __setattr__).
        return (Environment, (list(self._lines.items()),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return list(self._lines.items()) == list(other._lines.items())

    def __hash__(self) -> int:
        return hash(tuple(self._lines.items()))

    def __repr__(self) -> str:
        return f"Environment(channel={self.channel!r}, uniqueid={self.uniqueid!r}, ...)"

    @property
    def raw(self) -> "Mapping[str, str]":
        """Every line as sent, in order (``agi_*`` name → value), read-only."""
        return _MappingProxy(self._lines)

    # -- text fields ------------------------------------------------------------------------
    @property
    def request(self) -> str:
        """The first ``AGI()`` argument as written: script name, ``agi://`` URL or ``async``."""
        return self._lines.get("agi_request", "")

    @property
    def channel(self) -> str:
        """The channel's name (``PJSIP/alice-00000001``)."""
        return self._lines.get("agi_channel", "")

    @property
    def language(self) -> str:
        """The channel's language (``en``)."""
        return self._lines.get("agi_language", "")

    @property
    def type(self) -> str:
        """The channel technology (``PJSIP``, ``Local`` ...)."""
        return self._lines.get("agi_type", "")

    @property
    def uniqueid(self) -> str:
        """The channel's unique ID (``1700000000.1``)."""
        return self._lines.get("agi_uniqueid", "")

    @property
    def version(self) -> str:
        """Asterisk's version, e.g. ``22.10.1``."""
        return self._lines.get("agi_version", "")

    @property
    def callerid(self) -> str:
        """The caller ID number."""
        return self._lines.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        """The caller ID name."""
        return self._lines.get("agi_calleridname", "")

    @property
    def dnid(self) -> str:
        """The dialed number identifier."""
        return self._lines.get("agi_dnid", "")

    @property
    def rdnis(self) -> str:
        """The redirecting number."""
        return self._lines.get("agi_rdnis", "")

    @property
    def context(self) -> str:
        """The dialplan context the ``AGI()`` ran in."""
        return self._lines.get("agi_context", "")

    @property
    def extension(self) -> str:
        """The dialplan extension the ``AGI()`` ran in."""
        return self._lines.get("agi_extension", "")

    @property
    def accountcode(self) -> str:
        """The channel's account code."""
        return self._lines.get("agi_accountcode", "")

    # -- number fields (0 when missing or not a number) -------------------------------------
    @property
    def callingpres(self) -> int:
        """The caller ID presentation."""
        return _number(self._lines, "agi_callingpres")

    @property
    def callingani2(self) -> int:
        """The caller's ANI2 (information digits)."""
        return _number(self._lines, "agi_callingani2")

    @property
    def callington(self) -> int:
        """The caller ID type of number."""
        return _number(self._lines, "agi_callington")

    @property
    def callingtns(self) -> int:
        """The transit network selector."""
        return _number(self._lines, "agi_callingtns")

    @property
    def priority(self) -> int:
        """The dialplan priority the ``AGI()`` ran at."""
        return _number(self._lines, "agi_priority")

    @property
    def threadid(self) -> int:
        """The id of the Asterisk thread running the AGI."""
        return _number(self._lines, "agi_threadid")

    # -- the others -------------------------------------------------------------------------
    @property
    def enhanced(self) -> bool:
        """True under EAGI (``agi_enhanced: 1.0``): the caller's audio is on fd 3."""
        return self._lines.get("agi_enhanced", "0.0") not in ("0.0", "0", "")

    @property
    def args(self) -> "tuple[str, ...]":
        """``agi_arg_1``, ``agi_arg_2`` ... in order (the other ``AGI()`` arguments)."""
        args = self._args
        if args is None:
            args = _args(self._lines)
            _set(self, "_args", args)
        return args

    @property
    def network(self) -> bool:
        """True for FastAGI (``agi_network: yes``)."""
        return self._lines.get("agi_network") == "yes"

    @property
    def network_script(self) -> "str | None":
        """FastAGI: the URL after the host, e.g. ``ivr/main?lang=en``; None when absent."""
        return self._lines.get("agi_network_script")

    @property
    def script_path(self) -> str:
        """FastAGI: the path part of ``agi://host/path?query`` (no leading slash); else ``""``."""
        return (self.network_script or "").split("?", 1)[0]

    @property
    def query_string(self) -> str:
        """FastAGI: the query part of the URL after ``?`` (not decoded); else ``""``."""
        script = self.network_script or ""
        return script.split("?", 1)[1] if "?" in script else ""

    @property
    def query(self) -> dict[str, list[str]]:
        """FastAGI: the URL's query parameters, decoded (``?a=1&a=2`` → ``{"a": ["1", "2"]}``)."""
        from urllib.parse import parse_qs  # only FastAGI apps pay for this import

        return parse_qs(self.query_string, keep_blank_values=True)

    def to_bytes(self) -> bytes:
        """The block as Asterisk writes it: each line of ``raw`` in order, then an empty line."""
        text = "".join(f"{name}: {value}\n" for name, value in self._lines.items())
        return text.encode("utf-8", "surrogateescape") + b"\n"


_set = object.__setattr__


def _number(lines: "dict[str, str]", key: str) -> int:
    try:
        return int(lines.get(key, "0"))
    except ValueError:
        return 0


def _args(lines: "dict[str, str]") -> "tuple[str, ...]":
    """The ``agi_arg_N`` values in numeric order (looked for only when some name holds them)."""
    if "agi_arg_" not in "\n".join(lines):
        return ()
    numbered: dict[int, str] = {}
    for key, value in lines.items():
        if key.startswith("agi_arg_") and key[8:].isascii() and key[8:].isdigit():
            numbered[int(key[8:])] = value
    return tuple(value for _, value in sorted(numbered.items()))


def environment_from_dict(raw: "dict[str, str]") -> Environment:
    """An :class:`Environment` that takes ``raw`` over (the caller must not change it later):
    the session's way, without the copy that the constructor makes."""
    environment: Environment = _new(Environment)
    _set(environment, "_lines", raw)
    _set(environment, "_args", None)
    return environment


_new = object.__new__
