"""The steps printed after a write: what the operator runs so the process manager picks up
the change. supervisord's are run against a real supervisord; Upstart's are pinned with the
reason for each; the chown left to the operator names the group when a type has one."""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shlex
import time
from pathlib import Path

from helpers import Run, write_app
from supervisor_harness import Supervisor


def next_steps(result: Run) -> list[str]:
    """The steps under `next:` in the summary on stderr ([] when there is no `next:`)."""
    assert result.status == 0, result.stderr
    lines = result.stderr.splitlines()
    if "next:" not in lines:
        return []
    steps = lines[lines.index("next:") + 1 :]
    assert all(step.startswith("  ") for step in steps), result.stderr
    return [step.strip() for step in steps]


# Upstart ------------------------------------------------------------------------------------


def test_upstart_steps_after_a_write_a_change_and_a_removal(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "out"

    def export(*args: str) -> list[str]:
        return next_steps(procexport("upstart", str(out), *args, cwd=app))

    # new jobs: Upstart reads /etc/init again, then starting the app starts every job
    assert export("-m", "web=2,worker=1") == ["initctl reload-configuration", "initctl start shop"]
    # nothing changed: nothing to do
    assert export("-m", "web=2,worker=1") == []
    # changed jobs run the old definition until they stop: restart the app
    (app / "Procfile").write_text("web: serve --changed\nworker: work\n")
    assert export("-m", "web=2,worker=1") == [
        "initctl reload-configuration",
        "initctl stop shop",
        "initctl start shop",
    ]
    # a removed job file does not stop its running job: stop it first, by its job name (a
    # removed type: its instances' jobs and the type's own)
    assert export("-m", "web=1,worker=1") == [
        "initctl stop shop-web-2",
        "initctl reload-configuration",
        "initctl start shop",
    ]
    (app / "Procfile").write_text("web: serve --changed\n")
    assert export("-m", "web=1") == [
        "initctl stop shop-worker-1",
        "initctl stop shop-worker",
        "initctl reload-configuration",
        "initctl start shop",
    ]
    assert sorted(p.name for p in out.glob("*.conf")) == [
        "shop-web-1.conf",
        "shop-web.conf",
        "shop.conf",
    ]


# supervisord --------------------------------------------------------------------------------


def wait_until_serving(supervisor: Supervisor, timeout: float = 45) -> None:
    """supervisorctl answers once supervisord listens on its socket (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.ctl("pid").strip().isdigit():
            return
        assert supervisor.process is not None and supervisor.process.poll() is None
        time.sleep(0.1)
    raise AssertionError("supervisord never answered on its socket")


def run_steps(supervisor: Supervisor, steps: list[str]) -> None:
    for step in steps:
        argv = shlex.split(step)
        assert argv[0] == "supervisorctl", step
        supervisor.ctl(*argv[1:])


def pid_of(supervisor: Supervisor, name: str) -> str:
    pid = supervisor.ctl("pid", name).strip()
    assert pid.isdigit() and pid != "0", pid
    return pid


def test_supervisord_steps_bring_a_real_supervisord_to_each_export(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: exec sleep 600\nworker: exec sleep 601\n")
    out = tmp_path / "out"
    out.mkdir()
    user = getpass.getuser()

    def export(*args: str) -> list[str]:
        return next_steps(procexport("supervisord", str(out), "-u", user, *args, cwd=app))

    with Supervisor(out / "*.conf") as supervisor:
        wait_until_serving(supervisor)
        assert supervisor.status() == {}

        steps = export("-m", "web=2,worker=1")
        assert steps == ["supervisorctl reread", "supervisorctl update"]
        run_steps(supervisor, steps)
        every = {"shop:shop-web-1", "shop:shop-web-2", "shop:shop-worker-1"}
        supervisor.wait_for(every)
        assert set(supervisor.status()) == every
        worker = pid_of(supervisor, "shop:shop-worker-1")

        (app / "Procfile").write_text("web: exec sleep 600\nworker: exec sleep 602\n")
        steps = export("-m", "web=1,worker=1")  # a changed program and a removed one
        assert steps == ["supervisorctl reread", "supervisorctl update"]
        run_steps(supervisor, steps)
        supervisor.wait_for({"shop:shop-web-1", "shop:shop-worker-1"})
        assert set(supervisor.status()) == {"shop:shop-web-1", "shop:shop-worker-1"}
        assert pid_of(supervisor, "shop:shop-worker-1") != worker  # restarted: the new command
        assert "sleep 602" in (out / "shop.conf").read_text()

        result = procexport("supervisord", str(out), "--uninstall", cwd=app)
        steps = next_steps(result)
        assert steps == ["supervisorctl reread", "supervisorctl update"]
        run_steps(supervisor, steps)
        assert supervisor.status() == {}


# chown ---------------------------------------------------------------------------------------


def secrets_app(tmp_path: Path, formation: dict) -> Path:
    """Env files (--env-mode file) per type: each must belong to the type's account."""
    formation = formation | {"env_mode": "file"}
    return write_app(tmp_path / "app", "web: serve\nworker: work\n", formation, "SECRET=s3cr3t\n")


def test_the_chown_left_to_the_operator_names_the_types_group(procexport, tmp_path):
    formation = {
        "user": "no-such-user-here",
        "process": {"worker": {"user": "nobody", "group": "no-such-group-here"}},
    }
    app = secrets_app(tmp_path, formation)
    out = tmp_path / "out dir"
    steps = next_steps(procexport("upstart", str(out), cwd=app))
    assert f"chown nobody:no-such-group-here '{out}/app-worker.env'" in steps
    assert f"chown no-such-user-here '{out}/app-web.env'" in steps  # no group: the user's own


def test_not_as_root_the_chown_to_an_existing_user_and_group_is_left_to_the_operator(
    procexport, tmp_path, monkeypatch
):
    """Only root may give a file away: anyone else is told the whole `chown USER:GROUP`.
    The export runs as root here (CI does), so sync is told it is not (its os.geteuid)."""
    import types

    import exporter.sync

    not_root = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if k[:2] != "__"})
    not_root.geteuid = lambda: 65534
    monkeypatch.setattr(exporter.sync, "os", not_root)
    user, group = pwd.getpwuid(0).pw_name, grp.getgrgid(0).gr_name  # exist everywhere
    app = secrets_app(tmp_path, {"process": {"worker": {"user": user, "group": group}}})
    out = tmp_path / "out"
    steps = next_steps(procexport("upstart", str(out), "-u", user, cwd=app))
    assert f"chown {user}:{group} {out}/app-worker.env" in steps
    assert f"chown {user} {out}/app-web.env" in steps
