"""Build (once) and cache a Debian sid chroot that holds Asterisk 22.

Debian stable has no Asterisk package, and installing sid packages on the host would pull in a
newer libc, so Asterisk lives in its own sid chroot. The build goes into a ``*.partial-*``
directory and is renamed into place only after it has been checked, so an interrupted build is
never mistaken for a finished one. Mounts made during the build live in a private mount namespace
and vanish with it, even when the build is killed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUITE = "sid"
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm", "python3")
REQUIRED_MAJOR = 22
_RECIPE_VERSION = 1
_MARKER = ".agikit-provisioned.json"
_MIN_FREE_BYTES = 2 * 1024**3


class ProvisionError(RuntimeError):
    """Provisioning could not finish; the message says what to do."""


@dataclass(frozen=True)
class Chroot:
    """A finished chroot and the facts about it that the lifecycle code needs."""

    root: Path
    asterisk_version: str
    module_dir: str
    python_version: str


def default_cache_dir() -> Path:
    """Where chroots are kept: ``$AGIKIT_ASTERISK_CACHE``, else a system or user cache dir."""
    configured = os.environ.get("AGIKIT_ASTERISK_CACHE")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/agikit")
    return Path.home() / ".cache" / "agikit"


def _recipe_id(mirror: str) -> str:
    recipe = json.dumps([_RECIPE_VERSION, SUITE, PACKAGES, mirror], sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def host_debian_mirror() -> str:
    """The Debian archive the host's apt already uses (or ``$AGIKIT_DEBIAN_MIRROR``)."""
    configured = os.environ.get("AGIKIT_DEBIAN_MIRROR")
    if configured:
        return configured.rstrip("/")
    sources = [Path("/etc/apt/sources.list")]
    sources_dir = Path("/etc/apt/sources.list.d")
    if sources_dir.is_dir():
        sources += sorted(sources_dir.iterdir())
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        # deb822 ("URIs: ...") and one-line ("deb URI suite ...") formats.
        candidates: list[str] = re.findall(r"^\s*URIs:\s*(\S+)", text, re.MULTILINE)
        candidates += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE)
        for uri in candidates:
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise ProvisionError(
        "no Debian archive found in the host's apt sources; set AGIKIT_DEBIAN_MIRROR to one"
    )


def _run(argv: list[str], what: str, *, log: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ProvisionError(f"{what}: {argv[0]} is not installed") from exc
    if log is not None:
        with log.open("a") as out:
            out.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ProvisionError(f"{what} failed (exit {done.returncode}):\n{tail}")
    output: str = done.stdout
    return output


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path)
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            target = line.split()[1].replace("\\040", " ")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return found


def remove_tree(path: Path) -> None:
    """Delete a (possibly half-built) chroot, unmounting anything left mounted inside first."""
    for target in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    if _mounts_under(path):
        raise ProvisionError(f"cannot unmount what is mounted under {path}; remove it by hand")
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        raise ProvisionError(f"cannot remove {path}")


@contextmanager
def _lock(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_marker(root: Path, recipe: str) -> Chroot | None:
    try:
        facts = json.loads((root / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if facts.get("recipe") != recipe or not (root / "usr/sbin/asterisk").exists():
        return None
    return Chroot(
        root=root,
        asterisk_version=facts["asterisk_version"],
        module_dir=facts["module_dir"],
        python_version=facts["python_version"],
    )


def _ensure_host_tools(log: Path) -> None:
    if shutil.which("debootstrap") and shutil.which("unshare"):
        return
    if not shutil.which("apt-get"):
        raise ProvisionError("debootstrap is missing and there is no apt-get to install it with")
    _say("installing debootstrap on the host")
    env_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    _run([*env_prefix, "apt-get", "update", "-q"], "apt-get update (host)", log=log)
    _run(
        [*env_prefix, "apt-get", "install", "-y", "-q", "debootstrap", "util-linux"],
        "installing debootstrap (host)",
        log=log,
    )


def _say(message: str) -> None:
    print(f"agikit-asterisk: {message}", file=sys.stderr, flush=True)


def _in_chroot(root: Path, script: str) -> list[str]:
    """argv running ``script`` in the chroot with /proc mounted in a private mount namespace."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-ec",
        'mount -t proc proc "$0/proc"; exec chroot "$0" env -i '
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "
        'sh -ec "$1"',
        str(root),
        script,
    ]


def _build(partial: Path, mirror: str, recipe: str, log: Path) -> None:
    started = time.monotonic()
    _say(f"building a Debian {SUITE} chroot with Asterisk {REQUIRED_MAJOR} in {partial.parent}")
    _run(
        ["debootstrap", "--variant=minbase", SUITE, str(partial), mirror],
        "debootstrap",
        log=log,
    )
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# never start daemons while installing\nexit 101\n")
    policy.chmod(0o755)
    # The archive may be a frozen snapshot whose Release file has passed its Valid-Until date.
    apt = "apt-get -o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false -q"
    script = f"{apt} update && {apt} install -y {' '.join(PACKAGES)} && apt-get clean"
    _run(_in_chroot(partial, script), "installing Asterisk in the chroot", log=log)

    version_line = _run(["chroot", str(partial), "asterisk", "-V"], "asterisk -V").strip()
    match = re.search(r"Asterisk (\d+)\.(\S+)", version_line)
    if not match or int(match.group(1)) != REQUIRED_MAJOR:
        raise ProvisionError(f"expected Asterisk {REQUIRED_MAJOR}, the chroot has {version_line!r}")
    module_dirs = sorted(partial.glob("usr/lib/*/asterisk/modules"))
    if not module_dirs or not (module_dirs[0] / "res_agi.so").exists():
        raise ProvisionError("the chroot's Asterisk has no res_agi module")
    if not list(partial.glob("usr/share/asterisk/sounds/*/hello-world.gsm")):
        raise ProvisionError("the chroot has no English GSM sounds")
    python_version = _run(["chroot", str(partial), "python3", "-V"], "python3 -V").split()[-1]
    facts = {
        "recipe": recipe,
        "asterisk_version": f"{match.group(1)}.{match.group(2)}",
        "module_dir": "/" + str(module_dirs[0].relative_to(partial)),
        "python_version": python_version,
        "seconds": round(time.monotonic() - started, 1),
    }
    (partial / _MARKER).write_text(json.dumps(facts, indent=2) + "\n")
    _say(f"built in {facts['seconds']} s: Asterisk {facts['asterisk_version']}")


def provision(cache_dir: Path | None = None) -> Chroot:
    """Return the cached Asterisk chroot, building it first if it is missing or stale.

    Idempotent: when the chroot exists this only reads a marker file. Needs root (debootstrap
    and chroot), network access to the Debian archive and about 1 GB of disk for a build.
    """
    cache = cache_dir or default_cache_dir()
    mirror = host_debian_mirror()
    recipe = _recipe_id(mirror)
    root = cache / f"asterisk{REQUIRED_MAJOR}-{SUITE}-{recipe}"
    done = _read_marker(root, recipe)
    if done is not None:
        return done
    if os.geteuid() != 0:
        raise ProvisionError("building the Asterisk chroot needs root (debootstrap and chroot)")
    with _lock(cache):
        done = _read_marker(root, recipe)
        if done is not None:
            return done
        for stale in [*cache.glob(f"{root.name}.partial-*"), root]:
            if stale.exists():
                _say(f"removing unfinished {stale.name}")
                remove_tree(stale)
        free = shutil.disk_usage(cache).free
        if free < _MIN_FREE_BYTES:
            raise ProvisionError(
                f"only {free // 1024**2} MiB free in {cache}; building needs "
                f"{_MIN_FREE_BYTES // 1024**2} MiB (set AGIKIT_ASTERISK_CACHE elsewhere)"
            )
        log = cache / f"{root.name}.build.log"
        log.write_text("")
        _ensure_host_tools(log)
        partial = cache / f"{root.name}.partial-{os.getpid()}"
        try:
            _build(partial, mirror, recipe, log)
            partial.rename(root)
        except BaseException:
            remove_tree(partial)
            raise
        built = _read_marker(root, recipe)
        if built is None:
            raise ProvisionError(f"{root} was built but its marker cannot be read")
        return built
