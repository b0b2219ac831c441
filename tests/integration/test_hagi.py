"""HA FastAGI (``AGI(hagi://name/path)``) on a real Asterisk 22: SRV lookup and failover.

The Asterisk of ``asterisk_with_dns`` resolves through ``loopback_dns``, which serves
``_agi._tcp.<name>`` SRV records pointing at agikit FastAGI servers on 127.0.0.1. Every test
uses names of its own under ``<random>.agikit.test`` and removes them afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

import agikit
from agikit.testing.asterisk import (
    Asterisk,
    Call,
    CallResult,
    LoopbackDNS,
    Query,
    agi_data,
    fastagi_server,
)
from agikit.transports.fastagi import FastAGIServer, Handler


class Zone:
    """Names of one test under a random domain; records go to the shared DNS server."""

    def __init__(self, dns: LoopbackDNS) -> None:
        self.dns = dns
        self.domain = f"{secrets.token_hex(4)}.agikit.test"
        self.host = self.name("agi-host")  # the SRV targets' host: 127.0.0.1 only
        dns.add_address(self.host, "127.0.0.1")
        self.names = {self.host}

    def name(self, label: str) -> str:
        return f"{label}.{self.domain}"

    def srv(self, service: str, *targets: tuple[int, int] | tuple[int, int, str]) -> str:
        """SRV records of ``_agi._tcp.<service>``: (priority, port[, target host]) each, in
        answer order; returns the name to put in ``hagi://``."""
        name = self.name(service)
        for priority, port, *host in targets:
            self.dns.add_srv(
                f"_agi._tcp.{name}", host[0] if host else self.host, port, priority=priority
            )
        self.names |= {name, f"_agi._tcp.{name}"}
        return name

    def srv_queries(self, name: str) -> int:
        return self.dns.queries.count(Query(f"_agi._tcp.{name}", "SRV"))


@pytest.fixture
def zone(loopback_dns: LoopbackDNS) -> Iterator[Zone]:
    zone = Zone(loopback_dns)
    yield zone
    loopback_dns.remove(zone.names)


class Served:
    """What the agikit servers saw: (server tag, agi_request, agi_network_script) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.release = threading.Event()
        self.release.set()

    def handler(self, tag: str) -> Handler:
        async def handle(call: agikit.Call) -> None:
            self.calls.append((tag, call.env.request, call.env.network_script))
            await call.set_variable("SERVED_BY", tag)
            while not self.release.is_set():
                await asyncio.sleep(0.01)

        return handle


def hagi_call(asterisk: Asterisk, url: str) -> Call:
    return asterisk.originate("agikit-fastagi", agi_data(url, ["arg"]), report=["SERVED_BY"])


def hagi(asterisk: Asterisk, url: str) -> CallResult:
    return hagi_call(asterisk, url).wait()


def shut_down(server: FastAGIServer, grace: float = 10.0) -> Future[None]:
    """Start the server's shutdown and wait until its listening socket is closed (its calls
    in progress drain until the returned future is done)."""
    done = asyncio.run_coroutine_threadsafe(server.shutdown(grace), server.loop)
    deadline = time.monotonic() + 5
    while server.sockets and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not server.sockets, "the server did not stop listening"
    return done


def warnings_of(result: CallResult) -> list[str]:
    """res_agi's warnings during the call, without the log prefix."""
    marker = " res_agi.c: "
    return [
        line.split(marker, 1)[1] for line in result.log if "WARNING[" in line and marker in line
    ]


def test_preferred_server_then_failover_then_failure(
    asterisk_with_dns: Asterisk, zone: Zone
) -> None:
    served = Served()
    with fastagi_server(served.handler("A")) as a, fastagi_server(served.handler("B")) as b:
        port_a, port_b = a.bound_port, b.bound_port
        name = zone.srv("ivr", (20, port_b), (10, port_a))  # answer order != priority order
        url = f"hagi://{name}/ivr/en?x=1"

        before = [hagi(asterisk_with_dns, url) for _ in range(3)]
        assert [(r.agi_status, r.variables["SERVED_BY"]) for r in before] == [("SUCCESS", "A")] * 3
        assert served.calls == [("A", url, "ivr/en?x=1")] * 3  # agi_request keeps the hagi URL
        assert all(warnings_of(r) == [] for r in before)

        shut_down(a).result(10)
        after = [hagi(asterisk_with_dns, url) for _ in range(3)]
        assert [(r.agi_status, r.variables["SERVED_BY"]) for r in after] == [("SUCCESS", "B")] * 3
        assert served.calls[3:] == [("B", url, "ivr/en?x=1")] * 3
        # The refused connection to A is logged, and Asterisk went on to the next record.
        assert f"AGI request failed for host '{name}' ({zone.host}:{port_a})" in (
            warnings_of(after[0])
        )

        shut_down(b).result(10)
        down = hagi(asterisk_with_dns, url)
    assert (down.agi_status, down.variables["SERVED_BY"]) == ("FAILURE", "")
    assert [w for w in warnings_of(down) if w.startswith("AGI request failed")] == [
        f"AGI request failed for host '{name}' ({zone.host}:{port_a})",
        f"AGI request failed for host '{name}' ({zone.host}:{port_b})",
    ]
    # One SRV lookup per call: Asterisk caches nothing.
    assert zone.srv_queries(name) == 7


def test_draining_server_finishes_its_calls_while_new_ones_fail_over(
    asterisk_with_dns: Asterisk, zone: Zone
) -> None:
    served = Served()
    with fastagi_server(served.handler("A")) as a, fastagi_server(served.handler("B")) as b:
        url = f"hagi://{zone.srv('drain', (10, a.bound_port), (20, b.bound_port))}/app"
        served.release.clear()  # calls stay in their handlers until released
        in_flight = [hagi_call(asterisk_with_dns, url) for _ in range(3)]
        deadline = time.monotonic() + 10
        while len(served.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        draining = shut_down(a, grace=30)
        new = [hagi_call(asterisk_with_dns, url) for _ in range(3)]
        while len(served.calls) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not draining.done()  # A still has its calls
        served.release.set()
        results = [call.wait() for call in in_flight + new]
        draining.result(10)
    assert [(r.agi_status, r.variables["SERVED_BY"]) for r in results] == [("SUCCESS", "A")] * 3 + [
        ("SUCCESS", "B")
    ] * 3


def test_unresponsive_server_costs_two_seconds(asterisk_with_dns: Asterisk, zone: Zone) -> None:
    """A server that no longer accepts (here: a full listen backlog, so SYNs are dropped):
    Asterisk waits MAX_AGI_CONNECT, 2 s, for each of its addresses, then tries the next."""
    served = Served()
    with (
        socket.create_server(("127.0.0.1", 0), backlog=0) as hung,
        socket.create_connection(hung.getsockname()),  # fills the backlog
        fastagi_server(served.handler("B")) as b,
    ):
        url = f"hagi://{zone.srv('hung', (10, hung.getsockname()[1]), (20, b.bound_port))}/"
        started = time.monotonic()
        result = hagi(asterisk_with_dns, url)
        elapsed = time.monotonic() - started
    assert (result.agi_status, result.variables["SERVED_BY"]) == ("SUCCESS", "B")
    assert 1.9 < elapsed < 4.0
    assert any(
        "timed out after MAX_AGI_CONNECT (2000) milliseconds" in w for w in warnings_of(result)
    )


def test_connect_error_at_once_still_tries_the_next_record(
    asterisk_with_dns: Asterisk, zone: Zone
) -> None:
    """connect() failing at once (not EINPROGRESS) ends that target, not the SRV walk: TCP to a
    multicast address is ENETUNREACH on Linux."""
    served = Served()
    unreachable = zone.name("multicast")
    zone.dns.add_address(unreachable, "224.0.0.1")
    zone.names.add(unreachable)
    with fastagi_server(served.handler("B")) as b:
        name = zone.srv("unreachable", (10, 4573, unreachable), (20, b.bound_port))
        result = hagi(asterisk_with_dns, f"hagi://{name}/")
    assert (result.agi_status, result.variables["SERVED_BY"]) == ("SUCCESS", "B")
    assert "Connection to 224.0.0.1:4573 failed with unexpected error: Network is unreachable" in (
        warnings_of(result)
    )


def test_port_in_the_url_skips_the_srv_lookup(asterisk_with_dns: Asterisk, zone: Zone) -> None:
    served = Served()
    with fastagi_server(served.handler("A")) as a:
        name = zone.srv("ported", (10, 1))  # would fail if it were looked up
        url = f"hagi://{zone.host}:{a.bound_port}/x"
        result = hagi(asterisk_with_dns, url)
    assert (result.agi_status, result.variables["SERVED_BY"]) == ("SUCCESS", "A")
    assert f"Specifying a port number disables SRV lookups: {url}" in warnings_of(result)
    assert served.calls == [("A", url, "x")]
    assert zone.srv_queries(name) == 0


def test_no_srv_records_fails(asterisk_with_dns: Asterisk, zone: Zone) -> None:
    url = f"hagi://{zone.name('nothing')}/x"
    result = hagi(asterisk_with_dns, url)
    assert result.agi_status == "FAILURE"
    assert f"SRV lookup failed for {url}" in warnings_of(result)


def test_no_service_target_fails(asterisk_with_dns: Asterisk, zone: Zone) -> None:
    """Target "." (RFC 2782: no such service here): glibc expands it to "", which Asterisk
    does not recognise as "."; it fails as a host that does not resolve."""
    name = zone.srv("dot", (10, 0, "."))
    result = hagi(asterisk_with_dns, f"hagi://{name}/x")
    assert result.agi_status == "FAILURE"
    assert f"AGI request failed for host '{name}' (:0)" in warnings_of(result)


def test_busy_server_does_not_fail_over(asterisk_with_dns: Asterisk, zone: Zone) -> None:
    """Failover happens at TCP connect only: a server that accepts and then refuses the call
    (agikit's ``max_calls``) ends it with FAILURE, the next record is not tried."""
    served = Served()
    with (
        fastagi_server(served.handler("A"), max_calls=0) as a,
        fastagi_server(served.handler("B")) as b,
    ):
        url = f"hagi://{zone.srv('busy', (10, a.bound_port), (20, b.bound_port))}/"
        result = hagi(asterisk_with_dns, url)
    assert (result.agi_status, result.variables["SERVED_BY"]) == ("FAILURE", "")
    assert served.calls == []


def test_equal_weights_always_pick_the_first_record(
    asterisk_with_dns: Asterisk, zone: Zone
) -> None:
    """Asterisk 22's weight selection (main/srv.c process_weights) compares each record's own
    weight with a random number up to the sum, not the running sum of RFC 2782: with equal
    weights the first record of the answer gets every call."""
    served = Served()
    with fastagi_server(served.handler("A")) as a, fastagi_server(served.handler("B")) as b:
        name = zone.name("weighted")
        for port in (a.bound_port, b.bound_port):
            zone.dns.add_srv(f"_agi._tcp.{name}", zone.host, port, priority=10, weight=1)
        zone.names |= {name, f"_agi._tcp.{name}"}
        results = [hagi(asterisk_with_dns, f"hagi://{name}/") for _ in range(10)]
    assert [r.variables["SERVED_BY"] for r in results] == ["A"] * 10
