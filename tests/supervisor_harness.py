"""A real supervisord, run as an ordinary process on a generated include file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAIN_CONFIG = """\
[unix_http_server]
file=%(here)s/supervisor.sock

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s/children
loglevel=debug

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/supervisor.sock

[include]
files = {include}
"""


class Supervisor:
    """supervisord in the foreground on a short temporary directory (socket paths are short)."""

    def __init__(self, include: Path):
        self.home = Path(tempfile.mkdtemp(prefix="sv-"))
        (self.home / "children").mkdir()
        self.config = self.home / "supervisord.conf"
        self.config.write_text(MAIN_CONFIG.format(include=include))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Supervisor:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(self.config)],
            env=BASE_ENVIRONMENT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout

    def status(self) -> dict[str, str]:
        states = {}
        for line in self.ctl("status").splitlines():
            parts = line.split()
            if len(parts) >= 2 and ":" in parts[0]:
                states[parts[0]] = parts[1]
        return states

    def wait_for(self, expected: set[str], state: str = "RUNNING", timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.status()
            if set(states) >= expected and all(states[n] == state for n in expected):
                return
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.25)
        log = (self.home / "supervisord.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"not all {state}: {states}\nsupervisord.log:\n{log}")


# What supervisord is started with; its children inherit it beneath their environment=.
BASE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


def load_programs(include: Path) -> dict[str, object]:
    """supervisor's own config loader on an include file: its ProcessConfig per program."""
    from supervisor.options import ServerOptions

    home = Path(tempfile.mkdtemp(prefix="sv-"))
    try:
        (home / "children").mkdir()
        config = home / "supervisord.conf"
        config.write_text(MAIN_CONFIG.format(include=include))
        options = ServerOptions()
        options.configfile = str(config)
        options.process_config(do_usage=False)
        return {
            program.name: program
            for group in options.process_group_configs
            for program in group.process_configs
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def execv_args(program: object) -> list[str]:
    """The argv supervisor would exec for a program, by its own Subprocess code."""
    from supervisor.process import Subprocess

    _, argv = Subprocess(program).get_execv_args()
    return list(argv)
