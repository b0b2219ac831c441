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
    """

    __slots__ = (
        "accountcode",
        "args",
        "callerid",
        "calleridname",
        "callingani2",
        "callingpres",
        "callingtns",
        "callington",
        "channel",
        "context",
        "dnid",
        "enhanced",
        "extension",
        "language",
        "network",
        "network_script",
        "priority",
        "raw",
        "rdnis",
        "request",
        "threadid",
        "type",
        "uniqueid",
        "version",
    )
    #: The first ``AGI()`` argument as written: script name, ``agi://`` URL or ``async``.
    request: str
    channel: str
    language: str
    #: The channel technology (``PJSIP``, ``Local`` ...).
    type: str
    uniqueid: str
    #: Asterisk's version, e.g. ``22.10.1``.
    version: str
    callerid: str
    calleridname: str
    callingpres: int
    callingani2: int
    callington: int
    callingtns: int
    dnid: str
    rdnis: str
    context: str
    extension: str
    priority: int
    #: True under EAGI (``agi_enhanced: 1.0``): the caller's audio is on fd 3.
    enhanced: bool
    accountcode: str
    threadid: int
    #: ``agi_arg_1``, ``agi_arg_2`` ... in order (the other ``AGI()`` arguments).
    args: tuple[str, ...]
    #: True for FastAGI (``agi_network: yes``).
    network: bool
    #: FastAGI: the URL after the host, e.g. ``ivr/main?lang=en``; None when absent.
    network_script: str | None
    raw: "Mapping[str, str]"

    def __init__(self, lines: "Iterable[tuple[str, str]] | Mapping[str, str]" = ()) -> None:
        _fill(self, dict(lines.items() if hasattr(lines, "items") else lines))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Environment is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Environment is immutable (cannot delete {name})")

    def __reduce__(self) -> "tuple[object, ...]":
        # copy and pickle rebuild it from its lines (the default would go through __setattr__).
        return (Environment, (list(self.raw.items()),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return list(self.raw.items()) == list(other.raw.items())

    def __hash__(self) -> int:
        return hash(tuple(self.raw.items()))

    def __repr__(self) -> str:
        return f"Environment(channel={self.channel!r}, uniqueid={self.uniqueid!r}, ...)"

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
        text = "".join(f"{name}: {value}\n" for name, value in self.raw.items())
        return text.encode("utf-8", "surrogateescape") + b"\n"


_TEXT_FIELDS = tuple(
    (name, "agi_" + name)
    for name in (
        *("request", "channel", "language", "type", "uniqueid", "version", "callerid"),
        *("calleridname", "dnid", "rdnis", "context", "extension", "accountcode"),
    )
)
_NUMBER_FIELDS = tuple(
    (name, "agi_" + name)
    for name in ("callingpres", "callingani2", "callington", "callingtns", "priority", "threadid")
)
_set = object.__setattr__


def _fill(environment: Environment, raw: "dict[str, str]") -> None:
    """Set every field from ``raw`` (which the environment keeps): once per call, so it is
    table-driven and looks for ``agi_arg_N`` names only when some name holds ``agi_arg_``."""
    get = raw.get
    for name, key in _TEXT_FIELDS:
        _set(environment, name, get(key, ""))
    for name, key in _NUMBER_FIELDS:
        try:
            _set(environment, name, int(get(key, "0")))
        except ValueError:
            _set(environment, name, 0)
    _set(environment, "enhanced", get("agi_enhanced", "0.0") not in ("0.0", "0", ""))
    args: tuple[str, ...] = ()
    if "agi_arg_" in "\n".join(raw):
        numbered: dict[int, str] = {}
        for key, value in raw.items():
            if key.startswith("agi_arg_") and key[8:].isascii() and key[8:].isdigit():
                numbered[int(key[8:])] = value
        args = tuple(value for _, value in sorted(numbered.items()))
    _set(environment, "args", args)
    _set(environment, "network", get("agi_network") == "yes")
    _set(environment, "network_script", get("agi_network_script"))
    _set(environment, "raw", _MappingProxy(raw))


def environment_from_dict(raw: "dict[str, str]") -> Environment:
    """An :class:`Environment` that takes ``raw`` over (the caller must not change it later):
    the session's way, without the copy that the constructor makes."""
    environment: Environment = object.__new__(Environment)
    _fill(environment, raw)
    return environment
