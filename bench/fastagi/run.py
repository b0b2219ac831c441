"""FastAGI server benchmark: agikit, panoramisk and a hand-written asyncio baseline, in one run.

    python bench/fastagi/run.py --quick          # CI-sized: about a minute and a half
    python bench/fastagi/run.py                  # full: about 6 minutes
    python bench/fastagi/run.py --profile agikit --loop uvloop   # where agikit's CPU goes

Every server runs in a process of its own (servers.py), pinned to one CPU; the fake Asterisk
(loadgen.py, on uvloop) runs in worker processes pinned to the other CPUs. Server and load CPU
are read from /proc/PID/schedstat around each phase, RSS from /proc/PID/status. Phases rotate
over the servers within each round so that machine noise hits all of them alike, and every
figure is also given as a ratio to the baseline measured in the same run. See README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    CALL_SCRIPT,
    HERE,
    HOLD_STEP,
    REPO,
    cpu_ns,
    cpu_ticks,
    raise_nofile,
    rss_bytes,
)

IMPLS = ("baseline", "agikit", "panoramisk", "direct")
DEFAULT_IMPLS = ("baseline", "agikit", "panoramisk")  # "direct" is an opt-in experiment
LOOPS = ("asyncio", "uvloop")
EXTRA = 20  # extra VERBOSE commands per call in the "c50+20" phase: a command's marginal cost
COMMANDS = len(CALL_SCRIPT)
TARGET_CPU = 1.10
TARGET_MEMORY = 1.20
RATE = 1000.0  # calls/s of the open-loop phases (--rate)
TARGET_PHASES = ("rate", "c50")  # the phases whose CPU per call the target is checked on
PER_COMMAND = "c50"  # marginal cost per command: (c50+20 - c50) / 20, both saturated

#: name: (concurrency (the cap on open calls when paced), paced?, extra commands, duration key).
#: "rate" starts RATE calls/s whatever the server does (every server does the same work at the
#: same pace); "cN" phases keep N calls going (closed loop: calls/s); "c50+20" adds 20 VERBOSE.
PHASES: dict[str, tuple[int, bool, int, str]] = {
    "rate": (2000, True, 0, "long"),
    "c1": (1, False, 0, "short"),
    "c50": (50, False, 0, "long"),
    f"c50+{EXTRA}": (50, False, EXTRA, "short"),
    "c500": (500, False, 0, "long"),
}

MODES = {
    # Many short rounds: each phase runs on the three servers back to back, so a burst of noise
    # from elsewhere on the machine spoils one round's pair, and the median of pairs ignores it.
    # rounds, short phase s, long phase s, held sessions, warm-up s
    "quick": {"rounds": 3, "short": 0.5, "long": 0.8, "hold": 10_000, "warmup": 0.5},
    "full": {"rounds": 10, "short": 1.0, "long": 1.5, "hold": 10_000, "warmup": 1.0},
}


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# Child processes (only these are ever signalled or killed)
# --------------------------------------------------------------------------------------------
class Child:
    """A process we started, with its stdout lines in a queue (read by a thread)."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cpus: set[int] | None) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            cwd=REPO,
        )
        if cpus:
            os.sched_setaffinity(self.process.pid, cpus)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def recv(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"{self.name}: no answer within {timeout:.0f} s") from None
        if line is None:
            raise BenchError(f"{self.name} exited (status {self.process.poll()}): {self.tail()}")
        return line

    def recv_json(self, timeout: float) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.recv(timeout))
        return result

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            try:
                assert process.stdin is not None
                process.stdin.close()  # servers and workers exit when their stdin closes
            except OSError:
                pass
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(3)
        self._log.close()


def start_server(
    impl: str, loop: str, cpus: set[int] | None, logs: Path, extra: list[str]
) -> tuple[Child, int]:
    argv = [
        sys.executable,
        str(HERE / "servers.py"),
        "--impl",
        impl,
        "--loop",
        loop,
        "--max-seconds",
        "1800",
        *extra,
    ]
    child = Child(f"server {impl}/{loop}", argv, logs / f"server-{impl}-{loop}.log", cpus)
    line = child.recv(30.0)
    if not line.startswith("READY "):
        child.stop()
        raise BenchError(f"{child.name}: unexpected first line {line!r}: {child.tail()}")
    return child, int(line.split()[1])


def start_workers(count: int, cpus: set[int] | None, logs: Path) -> list[Child]:
    workers = []
    for index in range(count):
        argv = [sys.executable, str(HERE / "loadgen.py"), "--worker"]
        worker = Child(f"load worker {index}", argv, logs / f"loadgen-{index}.log", cpus)
        workers.append(worker)
    for worker in workers:
        ready = worker.recv_json(30.0)
        if not ready.get("uvloop"):
            print(f"note: {worker.name} runs without uvloop (install it: pip install uvloop)")
    return workers


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------
def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def merge_hist(target: dict[int, int], hist: dict[str, int]) -> None:
    for key, count in hist.items():
        target[int(key)] = target.get(int(key), 0) + count


def percentile(hist: dict[int, int], fraction: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for key in sorted(hist):
        seen += hist[key]
        if seen >= rank:
            return float(key)
    return float(max(hist))


def run_phase(
    server: Child,
    port: int,
    workers: list[Child],
    concurrency: int,
    duration: float,
    extra: int,
    max_calls: int | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    """One load phase against one server: counts, CPU of both sides, latency histograms."""
    parts = split(concurrency, len(workers))
    active = [(w, c) for w, c in zip(workers, parts, strict=True) if c]
    ticks_before = cpu_ticks(server.pid)
    server_before = cpu_ns(server.pid)
    load_before = sum(cpu_ns(w.pid) for w, _ in active)
    started = time.perf_counter()
    for worker, share in active:
        op: dict[str, Any] = {
            "op": "run",
            "port": port,
            "concurrency": share,
            "duration": duration,
            "extra": extra,
            "drain": 10.0,
            "rate": rate / len(active),
        }
        if max_calls is not None:
            op["max_calls"] = max(1, max_calls // len(active))
        worker.send(op)
    results = [w.recv_json(duration + 30.0) for w, _ in active]
    wall = time.perf_counter() - started
    server_cpu = (cpu_ns(server.pid) - server_before) / 1e9
    ticks_after = cpu_ticks(server.pid)
    user, system = (after - before for after, before in zip(ticks_after, ticks_before, strict=True))
    load_cpu = (sum(cpu_ns(w.pid) for w, _ in active) - load_before) / 1e9
    calls = sum(r["calls"] for r in results)
    errors = sum(r["errors"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    rtt: dict[int, int] = {}
    first: dict[int, int] = {}
    for result in results:
        merge_hist(rtt, result["rtt_hist"])
        merge_hist(first, result["first_hist"])
    return {
        "concurrency": concurrency,
        "extra": extra,
        "calls": calls,
        "commands": sum(r["commands"] for r in results),
        "errors": errors,
        "error_samples": [s for r in results for s in r["error_samples"]][:5],
        "elapsed": elapsed,
        "wall": wall,
        "server_cpu": server_cpu,
        "server_user_share": user / (user + system) if user + system else None,
        "load_cpu": load_cpu,
        "rate": rate,
        "skipped": sum(r.get("skipped", 0) for r in results),
        "load_procs": len(active),
        "rtt_hist": rtt,
        "first_hist": first,
    }


def hold_sessions(
    server: Child,
    port: int,
    workers: list[Child],
    sessions: int,
    timeout: float,
    between: bool = False,
) -> dict[str, Any]:
    """RSS of the server before and while ``sessions`` calls are held open at STREAM FILE."""
    time.sleep(0.3)
    rss_before = rss_bytes(server.pid)
    cpu_before = cpu_ns(server.pid)
    parts = split(sessions, len(workers))
    active = [(w, n) for w, n in zip(workers, parts, strict=True) if n]
    for worker, share in active:
        worker.send(
            {
                "op": "hold",
                "port": port,
                "sessions": share,
                "hold_step": HOLD_STEP,
                "max_hold": timeout,
                "setup_timeout": timeout,
                "drain": 30.0,
            }
        )
    held_events = [w.recv_json(timeout + 30.0) for w, _ in active]
    held = sum(e["held"] for e in held_events)
    setup = max(e["setup"] for e in held_events)
    time.sleep(0.5)  # let the last replies be processed
    rss_held = rss_bytes(server.pid)
    if between:  # tracemalloc profile: the second snapshot, while the calls are held
        os.kill(server.pid, signal.SIGUSR2)
        time.sleep(3.0)
    cpu_setup = (cpu_ns(server.pid) - cpu_before) / 1e9
    for worker, _ in active:
        os.kill(worker.pid, signal.SIGUSR1)  # our own worker: end the hold
    results = [w.recv_json(timeout + 60.0) for w, _ in active]
    return {
        "sessions": sessions,
        "held": held,
        "setup_seconds": setup,
        "rss_before": rss_before,
        "rss_held": rss_held,
        "rss_per_session": (rss_held - rss_before) / held if held else None,
        "server_cpu_setup": cpu_setup,
        "calls": sum(r["calls"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "error_samples": [s for r in results for s in r["error_samples"]][:5],
    }


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def version_of(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty src" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def plan_cpus(pin: bool, load_procs: int | None) -> tuple[set[int] | None, set[int] | None, int]:
    cpus = sorted(os.sched_getaffinity(0))
    if pin and len(cpus) >= 2:
        server_cpus, load_cpus = {cpus[0]}, set(cpus[1:])
        os.sched_setaffinity(0, load_cpus)  # this runner stays off the server's CPU too
        return server_cpus, load_cpus, load_procs or len(load_cpus)
    return None, None, load_procs or max(1, len(cpus) - 1)


def bench_loop(
    loop: str,
    impls: list[str],
    workers: list[Child],
    mode: dict[str, Any],
    server_cpus: set[int] | None,
    logs: Path,
    say: Any,
    server_args: list[str],
) -> dict[str, Any]:
    servers: dict[str, tuple[Child, int]] = {}
    out: dict[str, Any] = {"impls": {}}
    try:
        for impl in impls:
            extra = server_args if impl == "agikit" else []
            servers[impl] = start_server(impl, loop, server_cpus, logs, extra)
        for impl in impls:
            server, port = servers[impl]
            check = run_phase(server, port, workers, 2, 5.0, 2, max_calls=20)
            if check["errors"] or check["calls"] < 2:
                raise BenchError(
                    f"{impl}/{loop} failed the check call: {check['error_samples']} {server.tail()}"
                )
            run_phase(server, port, workers, 50, mode["warmup"], 0)
        for impl in impls:
            server, port = servers[impl]
            say(f"  {loop:8} {impl:11} holding {mode['hold']} calls ...")
            hold = hold_sessions(server, port, workers, mode["hold"], 120.0)
            out["impls"].setdefault(impl, {})["hold"] = hold
            if hold["held"] < mode["hold"] or hold["errors"]:
                say(f"    {hold['held']} held, {hold['errors']} errors: {hold['error_samples']}")
        for rnd in range(mode["rounds"]):
            for phase, (concurrency, paced, extra, length) in PHASES.items():
                order = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]
                for impl in order:
                    server, port = servers[impl]
                    result = run_phase(
                        server,
                        port,
                        workers,
                        concurrency,
                        mode[length],
                        extra,
                        rate=mode["rate"] if paced else 0.0,
                    )
                    runs = out["impls"].setdefault(impl, {}).setdefault("phases", {})
                    runs.setdefault(phase, []).append(result)
                    say(
                        f"  {loop:8} round {rnd + 1}/{mode['rounds']} {phase:7} {impl:11}"
                        f" {result['calls'] / result['elapsed']:8.0f} calls/s"
                        f"  server {result['server_cpu'] / max(result['calls'], 1) * 1e6:6.1f}"
                        " µs/call"
                        + (
                            f"  {result['errors']} ERRORS {result['error_samples'][:1]}"
                            if result["errors"]
                            else ""
                        )
                    )
        for impl in impls:
            out["impls"][impl]["server_rss_end"] = rss_bytes(servers[impl][0].pid)
    finally:
        for server, _ in servers.values():
            server.stop()
    return out


def _paired(data: dict[str, Any], impl: str, phase: str) -> list[tuple[float, float]]:
    """(CPU per call ratio, calls/s ratio) to the baseline, round by round."""
    mine = data["impls"][impl].get("phases", {}).get(phase, [])
    base = data["impls"]["baseline"].get("phases", {}).get(phase, [])
    pairs = []
    for x, b in zip(mine, base, strict=False):
        if x["calls"] and b["calls"] and b["server_cpu"] > 0:
            cpu = (x["server_cpu"] / x["calls"]) / (b["server_cpu"] / b["calls"])
            rate = (x["calls"] / x["elapsed"]) / (b["calls"] / b["elapsed"])
            pairs.append((cpu, rate))
    return pairs


def summarize(raw: dict[str, Any], impls: list[str]) -> dict[str, Any]:
    """Medians over rounds, merged latency histograms, ratios against the baseline."""
    summary: dict[str, Any] = {}
    for loop, data in raw.items():
        rows: dict[str, dict[str, Any]] = {}
        for impl in impls:
            entry = data["impls"].get(impl)
            if entry is None:
                continue
            row: dict[str, Any] = {}
            for phase, runs in entry.get("phases", {}).items():
                calls = [r["calls"] for r in runs]
                per_call = [r["server_cpu"] / r["calls"] for r in runs if r["calls"]]
                rate = [r["calls"] / r["elapsed"] for r in runs if r["elapsed"]]
                load_per_call = [r["load_cpu"] / r["calls"] for r in runs if r["calls"]]
                server_util = [r["server_cpu"] / r["wall"] for r in runs]
                load_util = [r["load_cpu"] / r["wall"] / r["load_procs"] for r in runs]
                rtt: dict[int, int] = {}
                first: dict[int, int] = {}
                for r in runs:
                    merge_hist(rtt, {str(k): v for k, v in r["rtt_hist"].items()})
                    merge_hist(first, {str(k): v for k, v in r["first_hist"].items()})
                shares = [
                    r["server_user_share"] for r in runs if r["server_user_share"] is not None
                ]
                row[phase] = {
                    "rounds": len(runs),
                    "server_user_share": statistics.median(shares) if shares else None,
                    "skipped": sum(r["skipped"] for r in runs),
                    "calls": sum(calls),
                    "errors": sum(r["errors"] for r in runs),
                    "calls_per_s": statistics.median(rate) if rate else None,
                    "server_cpu_us_per_call": statistics.median(per_call) * 1e6
                    if per_call
                    else None,
                    "server_util": statistics.median(server_util),
                    "load_cpu_us_per_call": statistics.median(load_per_call) * 1e6
                    if load_per_call
                    else None,
                    "load_util": statistics.median(load_util),
                    "rtt_p50_us": percentile(rtt, 0.50),
                    "rtt_p99_us": percentile(rtt, 0.99),
                    "first_command_p50_us": percentile(first, 0.50),
                    "first_command_p99_us": percentile(first, 0.99),
                }
            plain, longer = row.get(PER_COMMAND), row.get(f"{PER_COMMAND}+{EXTRA}")
            if (
                plain
                and longer
                and plain["server_cpu_us_per_call"]
                and longer["server_cpu_us_per_call"]
            ):
                marginal = (
                    longer["server_cpu_us_per_call"] - plain["server_cpu_us_per_call"]
                ) / EXTRA
                row["per_command"] = {
                    "cpu_us_per_command_avg": plain["server_cpu_us_per_call"] / COMMANDS,
                    "cpu_us_per_command_marginal": marginal,
                    "cpu_us_per_call_fixed": plain["server_cpu_us_per_call"] - COMMANDS * marginal,
                }
            hold = entry.get("hold")
            if hold:
                row["hold"] = {
                    "held": hold["held"],
                    "bytes_per_session": hold["rss_per_session"],
                    "rss_before": hold["rss_before"],
                    "rss_held": hold["rss_held"],
                    "setup_seconds": hold["setup_seconds"],
                    "errors": hold["errors"],
                }
            rows[impl] = row
        base = rows.get("baseline")
        ratios: dict[str, Any] = {}
        if base:
            for impl, row in rows.items():
                r: dict[str, Any] = {}
                for phase in PHASES:
                    if phase in row and phase in base:
                        b, x = base[phase], row[phase]
                        # CPU and calls/s: the median of per-round ratios (each pair measured
                        # back to back, so slow drifts of a noisy machine cancel out).
                        paired = _paired(data, impl, phase)
                        if paired:
                            r[f"cpu_per_call_{phase}"] = statistics.median(p[0] for p in paired)
                            r[f"calls_per_s_{phase}"] = statistics.median(p[1] for p in paired)
                        if b["rtt_p50_us"] and x["rtt_p50_us"]:
                            r[f"rtt_p50_{phase}"] = x["rtt_p50_us"] / b["rtt_p50_us"]
                        if b["rtt_p99_us"] and x["rtt_p99_us"]:
                            r[f"rtt_p99_{phase}"] = x["rtt_p99_us"] / b["rtt_p99_us"]
                if row.get("per_command") and base.get("per_command"):
                    bm = base["per_command"]["cpu_us_per_command_marginal"]
                    if bm > 0:
                        r["cpu_per_command_marginal"] = (
                            row["per_command"]["cpu_us_per_command_marginal"] / bm
                        )
                bh, xh = base.get("hold"), row.get("hold")
                if bh and xh and bh["bytes_per_session"] and xh["bytes_per_session"]:
                    r["memory_per_session"] = xh["bytes_per_session"] / bh["bytes_per_session"]
                ratios[impl] = r
        summary[loop] = {"servers": rows, "ratios_to_baseline": ratios}
    return summary


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table_line(
    rows: dict[str, Any],
    ratios: dict[str, Any],
    names: list[str],
    width: int,
    label: str,
    get: Any,
    spec: str,
    ratio_key: str | None = None,
) -> None:
    cells = []
    for name in names:
        try:
            value = get(rows[name])
        except (KeyError, TypeError):
            value = None
        text = _fmt(value, spec)
        ratio = ratios.get(name, {}).get(ratio_key) if ratio_key else None
        if ratio and name != "baseline":
            text += f" {ratio:5.2f}x"
        cells.append(f"{text:>{width}}")
    print(f"{label:36}" + "".join(cells))


def _busy(row: dict[str, Any], phase: str) -> str:
    return f"{100 * row[phase]['server_util']:.0f}/{100 * row[phase]['load_util']:.0f}"


def print_tables(summary: dict[str, Any], impls: list[str], info: dict[str, Any]) -> list[str]:
    """The table per loop; returns the target lines (PASS/MISS) for --check."""
    targets: list[str] = []
    rate = info["settings"]["rate"]
    print()
    print(
        f"FastAGI, {COMMANDS}-command call; Python {info['python']}, {info['cpus']} CPUs, "
        f"server on CPU {info['server_cpus']}, {info['load_procs']} load process(es) on CPU "
        f"{info['load_cpus']}; {info['mode']} mode, {info['settings']['rounds']} round(s); "
        f"agikit {info['agikit']}"
    )
    print(
        f"rate = {rate:.0f} calls/s started whatever the server does; cN = N calls kept going; "
        f"c50+{EXTRA} = {EXTRA} more VERBOSE per call"
    )
    for loop, data in summary.items():
        rows, ratios = data["servers"], data["ratios_to_baseline"]
        names = [i for i in impls if i in rows]
        width = 20
        print()
        print(f"== server event loop: {loop} ==  (x: ratio to the baseline of the same run)")
        print(f"{'':36}" + "".join(f"{n:>{width}}" for n in names))

        line = functools.partial(_table_line, rows, ratios, names, width)

        def ph(row: dict[str, Any], name: str, key: str) -> Any:
            return row[name][key]

        print("server CPU (user+system, µs)")
        for name in PHASES:
            line(
                f"  per call, {name}",
                lambda r, n=name: ph(r, n, "server_cpu_us_per_call"),
                ".1f",
                f"cpu_per_call_{name}",
            )
        line(
            f"  per command, {PER_COMMAND} (per call / {COMMANDS})",
            lambda r: r["per_command"]["cpu_us_per_command_avg"],
            ".2f",
            f"cpu_per_call_{PER_COMMAND}",
        )
        line(
            f"  per command, marginal (+{EXTRA})",
            lambda r: r["per_command"]["cpu_us_per_command_marginal"],
            ".2f",
            "cpu_per_command_marginal",
        )
        line(
            f"  per call, fixed part ({PER_COMMAND})",
            lambda r: r["per_command"]["cpu_us_per_call_fixed"],
            ".1f",
        )
        line("  user share, rate (%)", lambda r: 100 * ph(r, "rate", "server_user_share"), ".0f")
        line("  user share, c50 (%)", lambda r: 100 * ph(r, "c50", "server_user_share"), ".0f")
        print("throughput (calls/s) [server CPU busy % / load CPU busy % of its cores]")
        for name in ("c1", "c50", "c500"):
            line(
                f"  {name}", lambda r, n=name: ph(r, n, "calls_per_s"), ".0f", f"calls_per_s_{name}"
            )
            line("", functools.partial(_busy, phase=name), "s")
        print("command round trip (µs): one command's reply to the next command, at Asterisk")
        for name in ("rate", "c1", "c50", "c500"):
            line(
                f"  p50 {name}", lambda r, n=name: ph(r, n, "rtt_p50_us"), ".0f", f"rtt_p50_{name}"
            )
            line(
                f"  p99 {name}", lambda r, n=name: ph(r, n, "rtt_p99_us"), ".0f", f"rtt_p99_{name}"
            )
        line(
            "  connect to first command p50, rate",
            lambda r: ph(r, "rate", "first_command_p50_us"),
            ".0f",
        )
        print("memory")
        line(
            "  RSS per held call (KiB)",
            lambda r: r["hold"]["bytes_per_session"] / 1024,
            ".2f",
            "memory_per_session",
        )
        line("  calls held", lambda r: r["hold"]["held"], "d")
        line("  RSS idle (MiB)", lambda r: r["hold"]["rss_before"] / 2**20, ".1f")
        line("  RSS holding them (MiB)", lambda r: r["hold"]["rss_held"] / 2**20, ".1f")
        print("load generator (fake Asterisk)")
        line("  CPU per call, rate (µs)", lambda r: ph(r, "rate", "load_cpu_us_per_call"), ".1f")
        line("  CPU per call, c50 (µs)", lambda r: ph(r, "c50", "load_cpu_us_per_call"), ".1f")
        errors = {
            n: sum(v.get("errors", 0) for v in rows[n].values() if isinstance(v, dict))
            for n in names
        }
        skipped = {
            n: sum(v.get("skipped", 0) for v in rows[n].values() if isinstance(v, dict))
            for n in names
        }
        if any(errors.values()):
            print(f"ERRORS (calls that did not complete): {errors}")
        if any(skipped.values()):
            print(f"paced calls not started (the server fell behind the rate): {skipped}")
        for name in names:
            for phase_name in ("c50", "c500"):
                row = rows[name].get(phase_name)
                if row and row["load_util"] > 0.9 and row["server_util"] < 0.9:
                    print(
                        f"note: {name} {phase_name} was bound by the load generator, not the server"
                    )
        if "agikit" in ratios:
            checks = [
                (
                    f"agikit CPU/call ({name})",
                    ratios["agikit"].get(f"cpu_per_call_{name}"),
                    TARGET_CPU,
                )
                for name in TARGET_PHASES
            ]
            memory = ratios["agikit"].get("memory_per_session")
            checks.append(("agikit RSS/held call", memory, TARGET_MEMORY))
            for label, value, target in checks:
                verdict = "n/a" if value is None else ("PASS" if value <= target else "MISS")
                shown = _fmt(value, ".2f")
                targets.append(
                    f"target [{loop}] {label} <= {target:.2f}x baseline: {shown}x {verdict}"
                )
    print()
    for text in targets:
        print(text)
    return targets


# --------------------------------------------------------------------------------------------
# Profile mode
# --------------------------------------------------------------------------------------------
def profile(
    args: argparse.Namespace, workers: list[Child], server_cpus: set[int] | None, logs: Path
) -> None:
    impl, loop = args.profile, args.loop[0]
    suffix = {"cprofile": "prof", "py-spy": "txt", "tracemalloc": "memory.txt"}[args.profiler]
    output = Path(args.profile_output or f"/tmp/fastagi-{impl}-{loop}.{suffix}")
    extra = args.server_args
    if args.profiler == "cprofile":
        extra = [*extra, "--cprofile", str(output)]
    elif args.profiler == "tracemalloc":
        extra = [*extra, "--tracemalloc", str(output)]
    server, port = start_server(impl, loop, server_cpus, logs, extra)
    if args.profiler == "tracemalloc":
        try:
            run_phase(server, port, workers, 50, 0.5, 0)
            time.sleep(0.5)
            os.kill(server.pid, signal.SIGUSR2)  # our server: first snapshot
            time.sleep(1.0)
            hold = hold_sessions(server, port, workers, args.hold or 2000, 120.0, between=True)
            print(f"held {hold['held']} calls; allocations while they were held:")
        finally:
            server.stop()
        print(output.read_text())
        return
    spy = None
    spy_log = open(logs / "py-spy.log", "wb")  # noqa: SIM115 - closed below
    try:
        run_phase(server, port, workers, 50, 0.5, 0)
        if args.profiler == "py-spy":
            raw = output.with_suffix(".collapsed")
            spy = subprocess.Popen(
                [
                    _py_spy(),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--rate",
                    "1000",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--duration",
                    str(int(args.profile_seconds) + 1),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=spy_log,
            )
            time.sleep(1.0)
        if args.profile_rate:
            result = run_phase(
                server, port, workers, 2000, args.profile_seconds, 0, rate=args.profile_rate
            )
            how = f"{args.profile_rate:.0f} calls/s"
        else:
            result = run_phase(server, port, workers, 50, args.profile_seconds, 0)
            how = "concurrency 50"
        print(
            f"profiled {result['calls']} calls of {impl}/{loop} at {how}"
            f" ({result['server_cpu'] / max(result['calls'], 1) * 1e6:.1f} µs/call, profiled)"
        )
        if spy is not None:
            spy.wait(args.profile_seconds + 60)
    finally:
        server.stop()
        if spy is not None and spy.poll() is None:
            spy.terminate()
            spy.wait(10)
        spy_log.close()
    if args.profiler == "cprofile":
        import pstats

        stats = pstats.Stats(str(output))
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(25)
        print(f"stats: {output} (python -m pstats {output})")
    else:
        summarize_collapsed(output.with_suffix(".collapsed"))


def _py_spy() -> str:
    """py-spy from this interpreter's environment (a venv's bin/), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchError("py-spy is not installed: pip install -e '.[bench]'")
    return found


def summarize_collapsed(path: Path) -> None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    print(f"{total} samples; top self time:")
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:30]:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("top inclusive:")
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:30]:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print(f"collapsed stacks: {path}")


# --------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized run (under 2 minutes)")
    parser.add_argument("--loop", action="append", choices=LOOPS, help="server loop (repeatable)")
    parser.add_argument("--impl", action="append", choices=IMPLS, help="server (repeatable)")
    parser.add_argument("--rounds", type=int, help="rounds of phases (default: by mode)")
    parser.add_argument("--rate", type=float, default=RATE, help="calls/s of the paced phases")
    parser.add_argument("--hold", type=int, help="calls held open for the memory figure (10000)")
    parser.add_argument(
        "--load-procs", type=int, help="load generator processes (default: CPUs - 1)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load to CPUs")
    parser.add_argument("--json", default=str(HERE / "results.json"), help="where to write results")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--profile", choices=IMPLS, help="profile one server instead")
    parser.add_argument(
        "--profiler", choices=("cprofile", "py-spy", "tracemalloc"), default="cprofile"
    )
    parser.add_argument(
        "--agikit-src", help="benchmark agikit from this src/ directory (a candidate change)"
    )
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument(
        "--profile-rate",
        type=float,
        help="profile at this many calls/s (default: 50 calls kept going)",
    )
    parser.add_argument("--profile-output")
    args = parser.parse_args()

    mode_name = "quick" if args.quick else "full"
    mode = dict(MODES[mode_name])
    if args.rounds:
        mode["rounds"] = args.rounds
    if args.hold:
        mode["hold"] = args.hold
    mode["rate"] = args.rate
    loops = args.loop or [loop for loop in LOOPS if loop == "asyncio" or available("uvloop")]
    if not available("uvloop") and "uvloop" in loops:
        raise SystemExit("uvloop is not installed: pip install -e '.[bench]'")
    impls = args.impl or list(DEFAULT_IMPLS)
    if "panoramisk" in impls and not available("panoramisk"):
        print("note: panoramisk is not installed (pip install -e '.[bench]'); skipping it")
        impls.remove("panoramisk")
    if "baseline" not in impls:
        impls.insert(0, "baseline")
    raise_nofile(mode["hold"] + 1000)
    args.server_args = ["--agikit-src", args.agikit_src] if args.agikit_src else []
    server_cpus, load_cpus, load_procs = plan_cpus(not args.no_pin, args.load_procs)
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"fastagi-bench-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    info = {
        "mode": mode_name,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_cpus": sorted(server_cpus) if server_cpus else "any",
        "load_cpus": sorted(load_cpus) if load_cpus else "any",
        "load_procs": load_procs,
        "agikit": args.agikit_src or git_revision(),
        "uvloop": version_of("uvloop"),
        "panoramisk": version_of("panoramisk"),
        "settings": mode,
        "phases": {
            k: {"concurrency": c, "paced": p, "extra_commands": e, "seconds": mode[d]}
            for k, (c, p, e, d) in PHASES.items()
        },
        "commands_per_call": COMMANDS,
        "logs": str(logs),
    }
    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {text}", flush=True)

    workers = start_workers(load_procs, load_cpus, logs)
    try:
        if args.profile:
            args.loop = loops
            profile(args, workers, server_cpus, logs)
            return 0
        raw: dict[str, Any] = {}
        for loop in loops:
            raw[loop] = bench_loop(
                loop, impls, workers, mode, server_cpus, logs, say, args.server_args
            )
    finally:
        for worker in workers:
            worker.stop()
    summary = summarize(raw, impls)
    info["seconds"] = round(time.monotonic() - t0, 1)
    targets = print_tables(summary, impls, info)
    for data in raw.values():  # histograms: keep them, keyed by µs
        for entry in data["impls"].values():
            for runs in entry.get("phases", {}).values():
                for r in runs:
                    r["rtt_hist"] = {str(k): v for k, v in sorted(r["rtt_hist"].items())}
                    r["first_hist"] = {str(k): v for k, v in sorted(r["first_hist"].items())}
    Path(args.json).write_text(
        json.dumps({"info": info, "summary": summary, "targets": targets, "raw": raw}, indent=1)
    )
    print(f"results: {args.json}  (took {info['seconds']} s; logs in {logs})")
    missed = any(t.endswith("MISS") for t in targets)
    errors = any(
        v.get("errors")
        for data in summary.values()
        for row in data["servers"].values()
        for v in row.values()
        if isinstance(v, dict)
    )
    return 1 if args.check and (missed or errors) else 0


if __name__ == "__main__":
    sys.exit(main())
