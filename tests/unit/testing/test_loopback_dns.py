"""LoopbackDNS, the harness's DNS server for hagi:// tests, spoken to with hand-built packets.

Its real client, glibc's resolver inside the Asterisk chroot, is exercised by
tests/integration/test_hagi.py; these tests pin the wire format down without Asterisk (and
without root: they use an ephemeral port instead of 53).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agikit.testing.asterisk import DNSError, LoopbackDNS, Query

A, AAAA, SRV, MX = 1, 28, 33, 15


def build_query(name: str, qtype: int, *, query_id: int = 0x1234, flags: int = 0x0100) -> bytes:
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return (
        struct.pack("!HHHHHH", query_id, flags, 1, 0, 0, 0)
        + question
        + struct.pack("!HH", qtype, 1)
    )


def read_name(message: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name at ``offset``: (name, offset after it)."""
    labels: list[str] = []
    end = None
    while True:
        length = message[offset]
        if length >= 0xC0:
            end = offset + 2 if end is None else end
            offset = struct.unpack_from("!H", message, offset)[0] & 0x3FFF
            continue
        offset += 1
        if length == 0:
            return ".".join(labels), end if end is not None else offset
        labels.append(message[offset : offset + length].decode())
        offset += length


@dataclass
class Reply:
    query_id: int
    flags: int
    rcode: int
    questions: list[tuple[str, int]]
    answers: list[tuple[str, int, int, bytes]]  # name, type, ttl, rdata
    message: bytes

    @property
    def truncated(self) -> bool:
        return bool(self.flags & 0x0200)

    def srv(self) -> list[tuple[int, int, int, str]]:
        out = []
        for _, rtype, _, rdata in self.answers:
            assert rtype == SRV
            priority, weight, port = struct.unpack_from("!HHH", rdata)
            out.append((priority, weight, port, read_name(rdata, 6)[0]))
        return out


def parse(message: bytes) -> Reply:
    query_id, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", message)
    assert flags & 0x8000, "not a response"
    assert (ns, ar) == (0, 0)
    offset = 12
    questions = []
    for _ in range(qd):
        name, offset = read_name(message, offset)
        qtype, _ = struct.unpack_from("!HH", message, offset)
        offset += 4
        questions.append((name, qtype))
    answers = []
    for _ in range(an):
        name, offset = read_name(message, offset)
        rtype, rclass, ttl, length = struct.unpack_from("!HHIH", message, offset)
        assert rclass == 1
        offset += 10
        answers.append((name, rtype, ttl, message[offset : offset + length]))
        offset += length
    assert offset == len(message)
    return Reply(query_id, flags, flags & 0xF, questions, answers, message)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(port=0, ttl=7) as server:
        yield server


def ask_udp(dns: LoopbackDNS, packet: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(packet, (dns.host, dns.port))
        return sock.recv(65535)


def ask_tcp(dns: LoopbackDNS, *packets: bytes) -> list[bytes]:
    replies = []
    with socket.create_connection((dns.host, dns.port), timeout=5) as sock:
        for packet in packets:  # several queries on one connection
            sock.sendall(struct.pack("!H", len(packet)) + packet)
            size = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
            replies.append(sock.recv(size, socket.MSG_WAITALL))
    return replies


def test_binds_loopback_and_rejects_other_addresses() -> None:
    with pytest.raises(DNSError, match="loopback"):
        LoopbackDNS("192.0.2.1")
    with LoopbackDNS(port=0) as dns:
        assert dns.host == "127.53.0.1"
        assert dns.resolv_conf() == "nameserver 127.53.0.1\noptions timeout:1 attempts:1\n"


def test_takes_the_next_address_when_one_is_busy() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.53.0.1", 0))
        with LoopbackDNS(port=busy.getsockname()[1]) as dns:
            assert dns.host == "127.53.0.2"


def test_srv_records_in_the_order_given(dns: LoopbackDNS) -> None:
    dns.add_srv("_agi._tcp.IVR.example.test.", "b.example.test", 4574, priority=20, weight=5)
    dns.add_srv("_agi._tcp.ivr.example.test", "a.example.test.", 4573, priority=10)
    reply = parse(ask_udp(dns, build_query("_agi._tcp.ivr.example.test", SRV, query_id=77)))
    assert (reply.query_id, reply.rcode, reply.truncated) == (77, 0, False)
    assert reply.flags & 0x0400  # authoritative
    assert reply.flags & 0x0100  # RD copied
    assert reply.questions == [("_agi._tcp.ivr.example.test", SRV)]
    assert reply.srv() == [(20, 5, 4574, "b.example.test"), (10, 0, 4573, "a.example.test")]
    assert {ttl for _, _, ttl, _ in reply.answers} == {7}
    assert dns.queries == [Query("_agi._tcp.ivr.example.test", "SRV")]


def test_addresses_nodata_and_nxdomain(dns: LoopbackDNS) -> None:
    dns.add_address("host.example.test", "127.0.0.1")
    dns.add_address("host.example.test", "::1")
    a = parse(ask_udp(dns, build_query("host.example.test", A)))
    assert [(r[1], r[3]) for r in a.answers] == [(A, socket.inet_aton("127.0.0.1"))]
    aaaa = parse(ask_udp(dns, build_query("HOST.example.test", AAAA)))
    assert [(r[1], r[3]) for r in aaaa.answers] == [
        (AAAA, socket.inet_pton(socket.AF_INET6, "::1"))
    ]
    nodata = parse(ask_udp(dns, build_query("host.example.test", MX)))
    assert (nodata.rcode, nodata.answers) == (0, [])
    missing = parse(ask_udp(dns, build_query("other.example.test", A)))
    assert (missing.rcode, missing.answers) == (3, [])
    dns.remove("host.example.test")
    assert parse(ask_udp(dns, build_query("host.example.test", A))).rcode == 3


def test_tcp_and_udp_truncation(dns: LoopbackDNS) -> None:
    name = "_agi._tcp.big.example.test"
    for n in range(30):
        dns.add_srv(name, f"server-{n:02}.a-rather-long-target-name.example.test", 4000 + n)
    udp = parse(ask_udp(dns, build_query(name, SRV)))
    assert udp.truncated and udp.answers == [] and udp.questions == [(name, SRV)]
    first, second = (parse(m) for m in ask_tcp(dns, build_query(name, SRV), build_query(name, A)))
    assert not first.truncated
    assert [port for _, _, port, _ in first.srv()] == list(range(4000, 4030))
    assert (second.rcode, second.answers) == (0, [])


def test_srv_target_dot_means_no_service(dns: LoopbackDNS) -> None:
    dns.add_srv("_agi._tcp.none.example.test", ".", 0)
    assert parse(ask_udp(dns, build_query("_agi._tcp.none.example.test", SRV))).srv() == [
        (0, 0, 0, "")
    ]


def test_bad_packets(dns: LoopbackDNS) -> None:
    compressed = struct.pack("!HHHHHH", 5, 0, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    assert parse(ask_udp(dns, compressed)).rcode == 1  # FORMERR
    assert parse(ask_udp(dns, build_query("x.test", A)[:14])).rcode == 1
    notify = build_query("x.test", A, flags=4 << 11)
    assert parse(ask_udp(dns, notify)).rcode == 4  # NOTIMP
    # A response or a runt gets no answer; the server keeps serving.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        for packet in (build_query("x.test", A, flags=0x8000), b"\0\1"):
            sock.sendto(packet, (dns.host, dns.port))
            with pytest.raises(TimeoutError):
                sock.recv(512)
    assert parse(ask_udp(dns, build_query("x.test", A))).rcode == 3


def test_rejects_bad_records(dns: LoopbackDNS) -> None:
    with pytest.raises(DNSError):
        dns.add_srv("_agi._tcp.x.test", "a..test", 1)
    with pytest.raises(DNSError):
        dns.add_srv("_agi._tcp.x.test", "a.test", 70000)
    with pytest.raises(ValueError):
        dns.add_address("a.test", "not-an-address")
