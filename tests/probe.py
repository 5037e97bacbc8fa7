"""A stand-in app: records its argv, environment and cwd as one JSON line, then (with --wait)
runs until stopped and records the signal that stopped it."""

import json
import os
import signal
import sys
import time

OUT = os.environ.get("PROBE_OUT", "/dev/null")


def record(**fields: object) -> None:
    with open(OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(fields) + "\n")


def main() -> None:
    args = sys.argv[1:]
    record(
        event="start",
        pid=os.getpid(),
        argv=args,
        env={k: v for k, v in os.environ.items() if k not in ("PWD", "SHLVL", "_")},
        cwd=os.getcwd(),
    )
    if "--wait" in args:

        def stopped(signum: int, frame: object) -> None:
            record(event="signal", pid=os.getpid(), signal=signal.Signals(signum).name)
            sys.exit(0)

        for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, stopped)
        while True:
            time.sleep(1)


main()
