"""A tiny authoritative DNS server on loopback, for testing ``hagi://`` (SRV failover).

Asterisk resolves ``hagi://name/...`` by looking up SRV records of ``_agi._tcp.name`` with the
system resolver (``res_nsearch``, configured by ``/etc/resolv.conf``), then the A/AAAA records
of each target with ``getaddrinfo``. ``resolv.conf`` can only name a server on port 53, so this
server binds ``127.53.0.x:53`` (UDP and TCP; root needed), an address that host resolvers such
as systemd-resolved (127.0.0.53, 127.0.0.54) and dnsmasq (127.0.0.1) leave alone.

It answers only the names it was given (SRV, A, AAAA), ``NXDOMAIN`` for every other name and
never forwards a query, so nothing leaves the machine. Records can change while it runs, and
every query is recorded in :attr:`LoopbackDNS.queries`. Standard library only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

#: Addresses tried in order when none is given; all on loopback.
DEFAULT_ADDRESSES = tuple(f"127.53.0.{n}" for n in range(1, 10))

TYPE_A, TYPE_AAAA, TYPE_SRV = 1, 28, 33
_TYPE_NAMES = {TYPE_A: "A", TYPE_AAAA: "AAAA", TYPE_SRV: "SRV", 5: "CNAME", 6: "SOA", 255: "ANY"}
CLASS_IN = 1
_NOERROR, _FORMERR, _NXDOMAIN, _NOTIMP = 0, 1, 3, 4


class DNSError(RuntimeError):
    """The DNS server could not start, or a record is not valid."""


@dataclass(frozen=True)
class Query:
    """One question the server was asked: ``name`` without the trailing dot, ``type`` by name."""

    name: str
    type: str


def _normalise(name: str) -> str:
    name = name.rstrip(".").lower()
    if not name or any(not label or len(label) > 63 for label in name.split(".")):
        raise DNSError(f"not a domain name: {name!r}")
    return name


def _encode_name(name: str) -> bytes:
    labels = (bytes([len(label)]) + label.encode("ascii") for label in name.split("."))
    return b"".join(labels) + b"\0"


def _decode_question(message: bytes) -> tuple[str, int, int, int]:
    """(name, type, class, end offset) of the first question; names in queries are never
    compressed, so a pointer is a format error."""
    labels: list[str] = []
    offset = 12
    while True:
        length = message[offset]
        offset += 1
        if length == 0:
            break
        if length > 63:
            raise ValueError("compressed or invalid name in question")
        labels.append(message[offset : offset + length].decode("ascii").lower())
        offset += length
    qtype, qclass = struct.unpack_from("!HH", message, offset)
    return ".".join(labels), qtype, qclass, offset + 4


class _Zone:
    """The records: (name, type) -> rdata list, in the order they were added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[tuple[str, int], list[bytes]] = {}
        self.ttl = 0
        self.queries: list[Query] = []

    def answer(self, message: bytes, limit: int = 0xFFFF) -> bytes | None:
        """The reply to ``message``; if it would exceed ``limit`` bytes, a truncated one (TC
        set, no answers) so that the client asks again over TCP."""
        if len(message) < 12:
            return None
        query_id, flags, qdcount = struct.unpack_from("!HHH", message)
        if flags & 0x8000:  # a response, not a query: ignore it
            return None
        opcode = (flags >> 11) & 0xF
        reply_flags = 0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100)  # QR, AA, RD copied
        try:
            if opcode != 0 or qdcount != 1:
                raise NotImplementedError
            name, qtype, qclass, end = _decode_question(message)
        except NotImplementedError:
            return struct.pack("!HHHHHH", query_id, reply_flags | _NOTIMP, 0, 0, 0, 0)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            return struct.pack("!HHHHHH", query_id, reply_flags | _FORMERR, 0, 0, 0, 0)
        question = message[12:end]
        with self.lock:
            self.queries.append(Query(name, _TYPE_NAMES.get(qtype, str(qtype))))
            known = any(key[0] == name for key in self.records)
            rdatas = list(self.records.get((name, qtype), ())) if qclass == CLASS_IN else []
            ttl = self.ttl
        rcode = _NOERROR if known else _NXDOMAIN
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, ttl, len(rdata)) + rdata
            for rdata in rdatas
        )
        if 12 + len(question) + len(answers) > limit:
            header = struct.pack("!HHHHHH", query_id, reply_flags | 0x0200 | rcode, 1, 0, 0, 0)
            return header + question
        header = struct.pack("!HHHHHH", query_id, reply_flags | rcode, 1, len(rdatas), 0, 0)
        return header + question + answers


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data, limit=512)  # plain DNS over UDP: 512 bytes
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            while True:
                head = _read_exactly(sock, 2)
                if head is None:
                    return
                message = _read_exactly(sock, struct.unpack("!H", head)[0])
                if message is None:
                    return
                reply = self.server.zone.answer(message)
                if reply is None:
                    return
                sock.sendall(struct.pack("!H", len(reply)) + reply)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _UDPServer(socketserver.UDPServer):
    def __init__(self, address: tuple[str, int], zone: _Zone) -> None:
        self.zone = zone
        super().__init__(address, _UDPHandler)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], zone: _Zone) -> None:
        self.zone = zone
        super().__init__(address, _TCPHandler)


class LoopbackDNS:
    """An authoritative DNS server for a few names, on ``127.53.0.x:53`` (UDP and TCP).

    ::

        with LoopbackDNS() as dns:
            dns.add_address("agi-a.agikit.test", "127.0.0.1")
            dns.add_srv("_agi._tcp.ivr.agikit.test", "agi-a.agikit.test", 4573, priority=10)
            with Asterisk(nameserver=dns.host) as asterisk:
                ...   # AGI(hagi://ivr.agikit.test/path) now resolves through it

    ``host=None`` takes the first free address of :data:`DEFAULT_ADDRESSES`. Only loopback
    addresses are accepted. ``port=0`` picks a free port (for tests of the server itself:
    ``resolv.conf`` needs 53). ``ttl`` is the TTL of every answer (0: no caching anywhere).
    """

    def __init__(self, host: str | None = None, *, port: int = 53, ttl: int = 0) -> None:
        if host is not None and not ipaddress.ip_address(host).is_loopback:
            raise DNSError(f"LoopbackDNS binds loopback addresses only, not {host}")
        self._wanted = host
        self.port = port
        self._zone = _Zone()
        self._zone.ttl = ttl
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.host = ""

    # -- records ---------------------------------------------------------------------------
    def add_address(self, name: str, address: str) -> None:
        """An A (IPv4) or AAAA (IPv6) record for ``name``."""
        parsed = ipaddress.ip_address(address)
        kind = TYPE_A if parsed.version == 4 else TYPE_AAAA
        self._add(_normalise(name), kind, parsed.packed)

    def add_srv(
        self, name: str, target: str, port: int, *, priority: int = 0, weight: int = 0
    ) -> None:
        """An SRV record: ``name`` (e.g. ``_agi._tcp.ivr.example``) served by ``target:port``.
        ``target`` ``"."`` means "no such service here" (RFC 2782)."""
        for field_name, value in (("port", port), ("priority", priority), ("weight", weight)):
            if not 0 <= value <= 0xFFFF:
                raise DNSError(f"SRV {field_name} out of range: {value}")
        encoded_target = b"\0" if target == "." else _encode_name(_normalise(target))
        rdata = struct.pack("!HHH", priority, weight, port) + encoded_target
        self._add(_normalise(name), TYPE_SRV, rdata)

    def _add(self, name: str, kind: int, rdata: bytes) -> None:
        with self._zone.lock:
            self._zone.records.setdefault((name, kind), []).append(rdata)

    def remove(self, names: str | Iterable[str]) -> None:
        """Forget every record of ``names`` (one name or several); they become NXDOMAIN."""
        wanted = {_normalise(names)} if isinstance(names, str) else {_normalise(n) for n in names}
        with self._zone.lock:
            for key in [key for key in self._zone.records if key[0] in wanted]:
                del self._zone.records[key]

    @property
    def queries(self) -> list[Query]:
        """Every question asked so far, oldest first (a copy)."""
        with self._zone.lock:
            return list(self._zone.queries)

    def resolv_conf(self) -> str:
        """A ``resolv.conf`` that sends every lookup here, failing fast if the server is gone."""
        if not self.host:
            raise DNSError("not started")
        return f"nameserver {self.host}\noptions timeout:1 attempts:1\n"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LoopbackDNS:
        if self._servers:
            raise DNSError("already started")
        candidates = (self._wanted,) if self._wanted else DEFAULT_ADDRESSES
        failures = []
        for host in candidates:
            try:
                udp = _UDPServer((host, self.port), self._zone)
            except OSError as exc:
                failures.append(f"{host}:{self.port}/udp: {exc.strerror}")
                continue
            port = udp.server_address[1]  # the same port for TCP, also when asked for 0
            try:
                tcp = _TCPServer((host, port), self._zone)
            except OSError as exc:
                udp.server_close()
                failures.append(f"{host}:{self.port}/tcp: {exc.strerror}")
                continue
            self.host, self.port = host, port
            self._servers = [udp, tcp]
            break
        else:
            raise DNSError("no loopback address to serve DNS on: " + "; ".join(failures))
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"agikit-dns-{type(server).__name__}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and close the sockets. Safe to call more than once."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._servers, self._threads = [], []

    def __enter__(self) -> LoopbackDNS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
