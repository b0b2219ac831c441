"""AMI benchmark: agikit against panoramisk, same machine, same run, same bytes.

::

    python bench/ami/run.py --quick      # under 30 s: 1 round, asyncio
    python bench/ami/run.py              # full: 5 rounds, larger sizes, asyncio and uvloop

Four measurements, each in a fresh client process (``clients.py``), the fake Asterisk in a load
process of its own (``load.py``):

* ``parse``: the recorded event stream parsed in memory (no socket), one header looked up per
  message: events/s.
* ``events``: the stream over loopback to a logged-in client, counted by an all-events callback:
  events/s. ``events-read``: the callback also looks up two headers of every event.
* ``asyncagi``: channels in Async AGI, each running ``GET VARIABLE`` commands through AGI actions
  answered at once by the load process: commands/s.

Per round, agikit and panoramisk run back to back (order alternating), and the ratio of each pair
is taken; the table shows medians over rounds. CPU seconds are the client process's own (user +
system). See README.md for the method.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMPLS = ("agikit", "panoramisk")

QUICK = {"rounds": 1, "repeat": 20, "channels": 50, "commands": 100}
FULL = {"rounds": 5, "repeat": 60, "channels": 200, "commands": 200}


def cpus() -> tuple[int | None, int | None]:
    """(client CPU, load CPU) when there are two or more, else no pinning."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process: /proc/PID/schedstat (ns), else /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/schedstat") as handle:
            return int(handle.read().split()[0]) / 1e9
    except OSError:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Load:
    """The load process (``load.py``): started once, stopped when its stdin closes."""

    def __init__(self, cpu: int | None) -> None:
        command = [sys.executable, str(HERE / "load.py")]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        hello = json.loads(self.process.stdout.readline())
        self.port: int = hello["port"]
        self.events: int = hello["events"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def measure(
    bench: str,
    impl: str,
    load: Load,
    options: argparse.Namespace,
    sizes: dict[str, int],
    cpu: int | None,
    loop: str,
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "clients.py"),
        "--bench",
        bench,
        "--impl",
        impl,
        "--port",
        str(load.port),
        "--loop",
        loop,
        "--repeat",
        str(sizes["repeat"]),
        "--channels",
        str(sizes["channels"]),
        "--commands",
        str(sizes["commands"]),
    ]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    if options.agikit_src:
        command += ["--agikit-src", options.agikit_src]
    load_before = cpu_seconds(load.process.pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    load_cpu = cpu_seconds(load.process.pid) - load_before
    if done.returncode != 0:
        raise SystemExit(f"{bench}/{impl} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["rate"] = result["count"] / result["seconds"]
    result["cpu_per_item_us"] = result["cpu"] / result["count"] * 1e6
    result["busy"] = result["cpu"] / result["seconds"]
    # The load process's CPU over the whole client run (start-up included): an upper bound.
    result["load_busy"] = load_cpu / result["seconds"] if bench != "parse" else 0.0
    return result


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for impl in IMPLS:
        rates = [r[impl]["rate"] for r in rounds]
        cpu = [r[impl]["cpu_per_item_us"] for r in rounds]
        summary[impl] = {
            "rate": statistics.median(rates),
            "cpu_per_item_us": statistics.median(cpu),
            "busy": statistics.median(r[impl]["busy"] for r in rounds),
            "load_busy": statistics.median(r[impl]["load_busy"] for r in rounds),
            "errors": sum(r[impl]["errors"] for r in rounds),
        }
    summary["rate_ratio"] = statistics.median(
        r["agikit"]["rate"] / r["panoramisk"]["rate"] for r in rounds
    )
    summary["cpu_ratio"] = statistics.median(
        r["agikit"]["cpu_per_item_us"] / r["panoramisk"]["cpu_per_item_us"] for r in rounds
    )
    return summary


def revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "src/agikit/ami",
                "src/agikit/transports/asyncagi.py",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" +dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("panoramisk", "uvloop"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


UNITS = {
    "parse": "events/s",
    "events": "events/s",
    "events-read": "events/s",
    "asyncagi": "commands/s",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, small sizes (< 2 min)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--bench", action="append", choices=tuple(UNITS), help="repeatable")
    parser.add_argument(
        "--loop",
        action="append",
        choices=("asyncio", "uvloop"),
        help="the clients' event loop (repeatable; default: asyncio, and uvloop in full mode)",
    )
    parser.add_argument("--agikit-src", help="benchmark agikit from this src/ directory")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--json", default=str(HERE / "results.json"))
    options = parser.parse_args()
    sizes = dict(QUICK if options.quick else FULL)
    if options.rounds:
        sizes["rounds"] = options.rounds
    benches = options.bench or list(UNITS)
    loops = options.loop or (["asyncio"] if options.quick else ["asyncio", "uvloop"])
    if "uvloop" in loops and versions()["uvloop"] == "absent":
        loops.remove("uvloop")
    client_cpu, load_cpu = (None, None) if options.no_pin else cpus()
    started = time.monotonic()
    load = Load(load_cpu)
    results: dict[str, Any] = {
        "sizes": sizes,
        "revision": revision(),
        "versions": versions(),
        "cpus": os.cpu_count(),
        "recorded_events": load.events,
        "runs": {},
        "summary": {},
    }
    try:
        for loop in loops:
            for bench in benches:
                rounds = []
                for number in range(sizes["rounds"]):
                    order = IMPLS if number % 2 == 0 else IMPLS[::-1]
                    rounds.append(
                        {
                            impl: measure(bench, impl, load, options, sizes, client_cpu, loop)
                            for impl in order
                        }
                    )
                results["runs"][f"{loop}/{bench}"] = rounds
                results["summary"][f"{loop}/{bench}"] = summarize(rounds)
    finally:
        load.close()
    elapsed = time.monotonic() - started
    results["seconds"] = elapsed
    Path(options.json).write_text(json.dumps(results, indent=2) + "\n")

    print(
        f"agikit {results['revision']}, {results['versions']}, {os.cpu_count()} CPUs, "
        f"{sizes['rounds']} round(s), {elapsed:.0f} s"
    )
    print(
        f"recorded stream: {load.events} events x {sizes['repeat']}; Async AGI: "
        f"{sizes['channels']} channels x {sizes['commands']} commands"
    )
    header = f"{'loop/bench':<22}{'agikit':>14}{'panoramisk':>14}{'ratio':>8}"
    header += f"{'agikit CPU':>13}{'pan. CPU':>11}{'CPU ratio':>11}"
    print(header)
    for key, summary in results["summary"].items():
        bench = key.split("/", 1)[1]
        agikit, panoramisk = summary["agikit"], summary["panoramisk"]
        print(
            f"{key:<22}{agikit['rate']:>14,.0f}{panoramisk['rate']:>14,.0f}"
            f"{summary['rate_ratio']:>7.2f}x"
            f"{agikit['cpu_per_item_us']:>11.1f}us{panoramisk['cpu_per_item_us']:>9.1f}us"
            f"{summary['cpu_ratio']:>10.2f}x   {UNITS[bench]}"
        )
        if bench != "parse":
            busy = [f"{x['busy']:.0%}/{x['load_busy']:.0%}" for x in (agikit, panoramisk)]
            print(f"{'  busy':<22}{busy[0]:>14}{busy[1]:>14}   (client / load process CPU)")
        if agikit["errors"] or panoramisk["errors"]:
            print(f"  errors: agikit {agikit['errors']}, panoramisk {panoramisk['errors']}")
    print(
        f"(ratio: agikit rate / panoramisk rate, above 1 = agikit faster; CPU per event or "
        f"command, below 1 = agikit cheaper)\nresults: {options.json}"
    )


if __name__ == "__main__":
    main()
