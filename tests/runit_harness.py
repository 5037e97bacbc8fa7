"""A real runsvdir, run as an ordinary process on links to exported service directories,
stopped by PID with everything it started (runsv, svlogd, the apps)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

# What runsvdir is started with; a run script passes on PATH alone (LEAK proves it).
RUNSVDIR_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LEAK": "runsvdir's own"}


def process_table() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid -> (parent pid, process group, state); zombies left out."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def descendants(root: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def wait_until(condition, what: str, timeout: float = 20, interval: float = 0.05):
    """Poll `condition` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Runsvdir:
    """`runsvdir DIR`, DIR holding a link to each service directory, as /etc/service would."""

    def __init__(self, *services: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="runsvdir-"))
        self.log = self.dir.with_name(self.dir.name + ".log")
        for service in services:
            self.link(service)
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()  # every process it started, for the check that none is left
        self.groups: set[int] = set()  # every app's process group

    def link(self, service: Path) -> Path:
        (self.dir / service.name).symlink_to(service)
        return self.dir / service.name

    def __enter__(self) -> Runsvdir:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["runsvdir", str(self.dir)],
                env=RUNSVDIR_ENVIRONMENT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    def sv(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["sv", *args], capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"sv {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def status(self, name: str) -> str:
        return self.sv("status", str(self.dir / name), check=False)

    def pid(self, name: str) -> int:
        """The pid runsv started ./run as (the app's process group), once it runs."""

        def running() -> int | None:
            try:
                text = (self.dir / name / "supervise" / "pid").read_text().strip()
            except OSError:
                return None
            return int(text) if text and self.status(name).startswith("run:") else None

        pid = wait_until(running, f"{name} to run")
        self.groups.add(pid)
        self.remember()
        return pid

    def remember(self) -> None:
        assert self.process is not None
        self.seen |= descendants(self.process.pid)

    def __exit__(self, *exc: object) -> None:
        left = self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if not exc[0]:
            assert not left, f"left running: {left}\n{self.log.read_text(errors='replace')}"
        self.log.unlink(missing_ok=True)

    def stop(self) -> set[int]:
        """SIGHUP makes runsvdir send each runsv a TERM (runsv stops its service through
        control/t, then exits) and exit; what is still there after a deadline is killed by
        PID. Returns what had to be killed or is still alive."""
        assert self.process is not None
        self.remember()
        runsvs = {pid for pid, (ppid, _, _) in process_table().items() if ppid == self.process.pid}
        os.kill(self.process.pid, signal.SIGHUP)
        self.process.wait(timeout=30)

        def gone() -> bool:
            table = process_table()
            return not (self.seen & set(table)) and not any(
                pgid in self.groups for _, pgid, _ in table.values()
            )

        try:
            wait_until(gone, "runsv, svlogd and the apps to exit", timeout=30)
            return set()
        except AssertionError:
            table = process_table()
            left = (self.seen | runsvs) & set(table)
            left |= {pid for pid, (_, pgid, _) in table.items() if pgid in self.groups}
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return left
