"""A crash-looping process is restarted forever, at a bounded rate, by every format."""

from __future__ import annotations

import configparser
import getpass
import itertools
import os
import subprocess
import time
from pathlib import Path

import helpers
import pytest
import systemd_oracle
from helpers import write_app

needs_systemd = pytest.mark.skipif(
    not systemd_oracle.available() and not os.environ.get("CI"),
    reason="systemd is not installed (CI installs it)",
)

PROCFILE = "web: serve\nworker: work\n"


def export(procexport, app: Path, out: Path, format_name: str, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, format_name, out, *args).files


# systemd -----------------------------------------------------------------------------------

# systemd.unit(5): more than StartLimitBurst= starts within StartLimitIntervalSec= are refused,
# and a unit with Restart= that hits the limit is not restarted any more. 0 disables the check.
DEFAULT_START_LIMIT = (10.0, 5)  # (StartLimitIntervalSec, StartLimitBurst)


def crash_loop_hits_start_limit(restart_sec: float, interval: float, burst: int) -> bool:
    """A process that dies at once starts every restart_sec seconds (a little more in
    truth): burst + 1 of those starts fall within the interval when burst * restart_sec is
    shorter than it."""
    return interval > 0 and burst * restart_sec < interval


def test_the_start_limit_model_reproduces_the_reported_failure():
    # RestartSec=1 with systemd's defaults gives up after about 5 s (the report).
    assert crash_loop_hits_start_limit(1, *DEFAULT_START_LIMIT)
    assert not crash_loop_hits_start_limit(1, 0, 5)


def unit_section(text: str, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser[section]) if parser.has_section(section) else {}


@needs_systemd
@pytest.mark.parametrize(("formation", "delays"), [({}, (5, 60)), ({"restart_delay": 1}, (1, 60))])
def test_systemd_never_stops_restarting_a_crash_loop(procexport, tmp_path, formation, delays):
    formation = formation | {"process": {"worker": {"restart_delay": 60}}}
    app = write_app(tmp_path / "a", PROCFILE, {"app": "a"} | formation)
    files = export(procexport, app, tmp_path / "u", "systemd")
    units, warnings = systemd_oracle.load_units(files, "a.target")
    # systemd read every line without a warning: the start limit is in [Unit], where it
    # belongs (in [Service] it would be "Unknown key ... ignoring").
    assert warnings == []
    for name, delay in zip(("web", "worker"), delays, strict=True):
        unit = units[f"a-{name}@1.service"]
        assert unit.get("Restart") == "always"
        assert unit.get("RestartSec") == (f"{delay}s" if delay < 60 else "1min")
        start_limit = unit_section(files[f"a-{name}@.service"], "Unit")
        interval = float(start_limit.get("StartLimitIntervalSec", DEFAULT_START_LIMIT[0]))
        burst = int(start_limit.get("StartLimitBurst", DEFAULT_START_LIMIT[1]))
        assert not crash_loop_hits_start_limit(delay, interval, burst), name
        # ... and not by luck of the delay: the limit is off for any restart_delay >= 1
        assert not crash_loop_hits_start_limit(1, interval, burst)


@needs_systemd
def test_systemd_warns_about_a_start_limit_in_the_wrong_section(tmp_path):
    """The oracle sees the difference that matters: the same key in [Service] is ignored."""
    unit = "[Unit]\nDescription=x\n[Service]\nStartLimitIntervalSec=0\nExecStart=/bin/true\n"
    _, warnings = systemd_oracle.load_units({"x.service": unit}, "x.service")
    assert any("Unknown key" in line and "StartLimitIntervalSec" in line for line in warnings)


# supervisord -------------------------------------------------------------------------------


def start_times(path: Path) -> list[float]:
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def test_supervisord_keeps_restarting_a_crash_loop_at_a_bounded_rate(procexport, tmp_path):
    """A program that exits at once goes FATAL after 4 starts (about 6 s) with supervisord's
    default startretries=3. Ours is still being restarted after 6 starts, at most one start
    per second; one that crashes after running a while is restarted at once, every time."""
    from supervisor_harness import Supervisor, load_programs

    records = tmp_path / "starts"
    records.mkdir()
    app = write_app(
        tmp_path / "loop",
        'quick: date +%s.%N >> "$STARTS/quick"; exit 3\n'
        'slow: date +%s.%N >> "$STARTS/slow"; sleep 1.2; exit 3\n',
        {"app": "loop", "env": {"STARTS": str(records)}},
    )
    conf = tmp_path / "out" / "loop.conf"
    export(procexport, app, tmp_path / "out", "supervisord", "-u", getpass.getuser())
    loaded = load_programs(conf)
    assert {(p.startsecs, p.startretries) for p in loaded.values()} == {(1, 100000)}
    with Supervisor(conf) as supervisor:
        deadline = time.monotonic() + 60  # both reach 6 starts in about 15 s on a quiet machine
        while time.monotonic() < deadline and (
            len(start_times(records / "quick")) < 6 or len(start_times(records / "slow")) < 6
        ):
            time.sleep(0.2)
        states = supervisor.status()
    quick, slow = start_times(records / "quick"), start_times(records / "slow")
    assert len(quick) >= 6, (quick, states)
    # still being restarted: never FATAL (nor stopped for good)
    assert states["loop:loop-quick-1"] not in ("FATAL", "STOPPED"), states
    assert states["loop:loop-slow-1"] not in ("FATAL", "STOPPED"), states
    # bounded rate: supervisord's backoff waits 1 s, 2 s, 3 s... after quick failures, and a
    # program that ran longer than startsecs was up that long before its restart
    quick_gaps = [b - a for a, b in itertools.pairwise(quick)]
    assert min(quick_gaps) >= 0.9, quick_gaps
    assert len(slow) >= 6, slow
    assert min(b - a for a, b in itertools.pairwise(slow)) >= 1.2


# Upstart -----------------------------------------------------------------------------------


def run_post_stop(job, status_line: str, tmp_path: Path) -> list[str]:
    """Run a job's post-stop script as Upstart does (/bin/sh -e, the job's environment) with
    `initctl status` answering `status_line`; the arguments `sleep` was called with."""
    from upstart_model import job_environment

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "sleep-calls"
    calls.unlink(missing_ok=True)
    (bin_dir / "initctl").write_text(
        f"#!/bin/sh\n[ \"$1 $2\" = 'status {job.name}' ] && echo '{status_line}'\n"
    )
    (bin_dir / "sleep").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    for tool in ("initctl", "sleep"):
        (bin_dir / tool).chmod(0o755)
    env = job_environment(job)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    subprocess.run(["/bin/sh", "-e", "-c", job.post_stop], env=env, check=True, timeout=10)
    return calls.read_text().split() if calls.exists() else []


def test_upstart_respawns_without_limit_after_restart_delay(procexport, tmp_path):
    from upstart_model import parse_job

    app = write_app(
        tmp_path / "a",
        PROCFILE,
        {
            "app": "a",
            "formation": {"web": 2, "worker": 1},
            "process": {"worker": {"restart_delay": 30}},
        },
    )
    files = export(procexport, app, tmp_path / "out", "upstart")
    for name, delay in (("a-web-1", "5"), ("a-web-2", "5"), ("a-worker-1", "30")):
        job = parse_job(name, files[f"{name}.conf"])
        # init(5): `respawn limit unlimited` never stops respawning (the default gives up
        # after 10 respawns in 5 s)
        assert (job.respawn, job.respawn_limit, job.task) == (True, "unlimited", False)
        # Upstart respawns a crashed job through post-stop with its goal still `start`; a
        # stop request sets the goal to `stop` and must not wait.
        assert run_post_stop(job, f"{name} start/post-stop, process 42", tmp_path) == [delay]
        assert run_post_stop(job, f"{name} stop/post-stop, process 42", tmp_path) == []
