"""-l DIR: procexport creates a missing log directory when it writes to a LOCATION (as root,
0750, owned by the processes' user), or prints the exact command to run; an existing directory
is never touched."""

from __future__ import annotations

import getpass
import os
import pwd
import stat
import time
from pathlib import Path

import pytest
from helpers import PROBE_COMMAND, write_app
from installed import run_installed
from supervisor_harness import Supervisor

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating for another user needs root")
NOBODY = "nobody"


@as_root
@pytest.mark.parametrize("format_name", ["systemd", "supervisord", "upstart"])
def test_a_missing_log_directory_is_created_0750_for_the_user(tmp_path, format_name):
    app = write_app(tmp_path / "shop", "web: a\n")
    logs = tmp_path / "var" / "log" / "shop"
    result = run_installed(
        format_name, str(tmp_path / "out"), "-u", NOBODY, "-l", str(logs), cwd=app
    )
    assert result.status == 0, result.stderr
    info = logs.stat()
    assert stat.S_IMODE(info.st_mode) == 0o750
    assert (info.st_uid, info.st_gid) == (
        pwd.getpwnam(NOBODY).pw_uid,
        pwd.getpwnam(NOBODY).pw_gid,
    )
    assert "install -d" not in result.stderr


def test_for_an_account_this_machine_lacks_the_exact_command_is_printed(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\n")
    logs = tmp_path / "log dir"
    result = run_installed(
        "upstart",
        str(tmp_path / "out"),
        "-u",
        "ghost",
        "-g",
        "ghosts",
        "-l",
        str(logs),
        cwd=app,
    )
    assert result.status == 0, result.stderr
    assert not logs.exists()
    assert result.stderr.splitlines()[1:] == [
        "next:",
        f"  install -d -m 0750 -o ghost -g ghosts '{logs}'",
        "  initctl reload-configuration",
        "  initctl start shop",
    ]


def test_an_existing_directory_is_left_as_it_is(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\n")
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    before = logs.stat()
    result = run_installed("systemd", str(tmp_path / "out"), "-u", NOBODY, "-l", str(logs), cwd=app)
    assert result.status == 0, result.stderr
    after = logs.stat()
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before.st_mode,
        before.st_uid,
        before.st_gid,
    )
    assert "install -d" not in result.stderr


@pytest.mark.parametrize(
    ("format_name", "args"),
    [
        ("systemd", []),  # preview
        ("systemd", ["OUT", "--dry-run"]),
        ("kubernetes", ["OUT", "--image", "shop:1"]),  # logs are the cluster's
    ],
)
def test_preview_dry_run_and_kubernetes_create_nothing(tmp_path, format_name, args):
    app = write_app(tmp_path / "shop", "web: a\n")
    logs = tmp_path / "logs"
    out = str(tmp_path / "out")
    result = run_installed(
        format_name,
        *[out if a == "OUT" else a for a in args],
        "-u",
        NOBODY,
        "-l",
        str(logs),
        cwd=app,
    )
    assert result.status in (0, 1), result.stderr
    assert not logs.exists()
    assert "install -d" not in result.stderr


def test_supervisord_starts_the_app_with_its_log_in_the_created_directory(tmp_path):
    """supervisord refuses a whole configuration whose log directory is missing."""
    app = write_app(
        tmp_path / "shop",
        f"web: {PROBE_COMMAND} web --wait\n",
        {"env": {"PROBE_WAIT": "1", "PROBE_OUT": str(tmp_path / "probe.jsonl")}},
    )
    out = tmp_path / "conf"
    logs = tmp_path / "logs" / "shop"
    user = getpass.getuser()
    result = run_installed("supervisord", str(out), "-u", user, "-l", str(logs), cwd=app)
    assert result.status == 0, result.stderr
    assert logs.is_dir()
    with Supervisor(out / "shop.conf") as supervisor:
        supervisor.wait_for({"shop:shop-web-1"})
        log = logs / "shop-web-1.log"
        deadline = time.monotonic() + 30
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log.exists()


def test_the_command_printed_creates_what_procexport_would_have(tmp_path):
    """The printed `install -d` line, run as printed, gives the directory the mode 0750."""
    import shlex
    import subprocess

    app = write_app(tmp_path / "shop", "web: a\n")
    logs = tmp_path / "logs"
    result = run_installed(
        "systemd", str(tmp_path / "out"), "-u", "ghost", "-l", str(logs), cwd=app
    )
    step = next(line.strip() for line in result.stderr.splitlines() if "install -d" in line)
    me = getpass.getuser()
    subprocess.run(shlex.split(step.replace("-o ghost", f"-o {me}")), check=True)
    assert stat.S_IMODE(Path(logs).stat().st_mode) == 0o750


@pytest.mark.parametrize("format_name", ["systemd-user", "launchd"])
def test_a_format_that_runs_as_the_exporting_user_gives_the_directory_to_that_user(
    tmp_path, format_name
):
    """A user manager and a LaunchAgent run the processes as whoever loads them: the default
    user (the app name, `ghostapp` here, which does not exist) must not get the directory."""
    app = write_app(tmp_path / "ghostapp", "web: a\n")
    logs = tmp_path / "logs"
    result = run_installed(format_name, str(tmp_path / "out"), "-l", str(logs), cwd=app)
    assert result.status == 0, result.stderr
    info = logs.stat()
    assert stat.S_IMODE(info.st_mode) == 0o750
    assert info.st_uid == pwd.getpwnam(getpass.getuser()).pw_uid
    assert "install -d" not in result.stderr
