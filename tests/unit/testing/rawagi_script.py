"""A raw process AGI for the fake Asterisk's tests (standard library only, no agikit).

Driven by environment variables: RAWAGI_PLAN (JSON list: a string is a command line to send
and read the reply of; {"sleep": s}, {"wait_sighup": s}, {"read_audio": n}, {"close_stdout":
true}, {"drain_audio": true}, {"raw": "text"} are actions), RAWAGI_LOG (where to write what it
saw, as JSON), RAWAGI_SIGHUP ("handle" or "default"), RAWAGI_EXIT (exit status).
"""

import json
import os
import signal
import sys
import time

log = {
    "argv": sys.argv,
    "ast": {k: v for k, v in os.environ.items() if k.startswith("AST_")},
    "events": [],
}
sighups = []


def save():
    path = os.environ["RAWAGI_LOG"]
    with open(path + ".tmp", "w") as handle:
        json.dump(log, handle)
    os.replace(path + ".tmp", path)  # a SIGHUP that kills the script leaves a whole log


def on_sighup(signum, frame):
    sighups.append(time.monotonic())
    log["events"].append(["sighup"])


if os.environ.get("RAWAGI_SIGHUP", "handle") == "handle":
    signal.signal(signal.SIGHUP, on_sighup)
log["sighup_disposition"] = str(signal.getsignal(signal.SIGHUP))


def is_open(fd):
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


log["fds"] = [fd for fd in range(256) if is_open(fd)]

stdin = sys.stdin.buffer
stdout = sys.stdout.buffer
env = {}
while True:
    line = stdin.readline()
    if line in (b"\n", b""):
        break
    key, _, value = line.decode("utf-8", "surrogateescape").rstrip("\n").partition(": ")
    env[key] = value
log["env"] = env
save()


def read_reply():
    lines = []
    while True:
        raw = stdin.readline()
        if not raw:
            log["events"].append(["eof"])
            return None
        line = raw.rstrip(b"\n").decode("utf-8", "surrogateescape")
        if line == "HANGUP":
            log["events"].append(["hangup-line"])
            continue
        lines.append(line)
        if line.startswith("100 ") or (lines[0].startswith("520-") and not line.startswith("520 ")):
            continue
        return lines


for item in json.loads(os.environ.get("RAWAGI_PLAN", "[]")):
    if isinstance(item, str):
        try:
            stdout.write(item.encode("utf-8", "surrogateescape") + b"\n")
            stdout.flush()
        except BrokenPipeError:
            log["events"].append(["epipe", item])
            break
        reply = read_reply()
        if reply is None:
            break
        log["events"].append(["reply", item, reply])
    elif "sleep" in item:
        time.sleep(item["sleep"])
    elif "wait_sighup" in item:
        deadline = time.monotonic() + item["wait_sighup"]
        while not sighups and time.monotonic() < deadline:
            time.sleep(0.01)
    elif "raw" in item:
        stdout.write(item["raw"].encode())
        stdout.flush()
    elif "read_audio" in item:
        data = b""
        while len(data) < item["read_audio"]:
            chunk = os.read(3, item["read_audio"] - len(data))
            if not chunk:
                break
            data += chunk
        log["audio"] = data.hex()
    elif "close_stdout" in item:
        stdout.flush()
        os.close(1)
        log["events"].append(["closed"])
    elif "drain_audio" in item:
        total = 0
        while chunk := os.read(3, 65536):
            total += len(chunk)
        log["audio_eof_after"] = total
    save()
save()
sys.exit(int(os.environ.get("RAWAGI_EXIT", "0")))
