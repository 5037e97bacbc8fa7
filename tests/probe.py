"""A stand-in app: records its argv, environment and cwd as one JSON line to $PROBE_OUT.

With `--wait` among its arguments and PROBE_WAIT=1 in its environment it then runs until a
signal stops it, and records that signal. PROBE_* variables are left out of the record.
"""

import json
import os
import signal
import sys
import time

# "{PS}" in PROBE_OUT becomes the instance's PS, so that every instance has a file of its own.
OUT = os.environ.get("PROBE_OUT", "/dev/null").replace("{PS}", os.environ.get("PS", "none"))


def record(**fields: object) -> None:
    with open(OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(fields) + "\n")


STOP_SIGNALS = (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT, signal.SIGHUP)


def stopped(signum: int, frame: object) -> None:
    record(event="signal", pid=os.getpid(), signal=signal.Signals(signum).name)
    sys.exit(0)


def main() -> None:
    args = sys.argv[1:]
    waiting = "--wait" in args and os.environ.get("PROBE_WAIT") == "1"
    if waiting:
        # Ready before it says so: a stop signal sent as soon as the start record appears
        # (or while it is written) is held until the record is complete, then handled.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for sig in STOP_SIGNALS:
            signal.signal(sig, stopped)
    record(
        event="start",
        pid=os.getpid(),
        argv=args,
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("PWD", "SHLVL", "_") and not k.startswith("PROBE_")
        },
        cwd=os.getcwd(),
    )
    if waiting:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        while True:
            time.sleep(1)


main()
