"""Login shells: `login = true` (app-wide or per type) and --login run `SHELL -l -c COMMAND`,
so that a PATH set by the login profile (rbenv, nvm, virtualenv shims) reaches the command.
Each format's output is read back by the real parser (or its model) and run for real, with a
HOME whose .profile puts a tool on PATH."""

from __future__ import annotations

import getpass
import subprocess
import sys
import time
from pathlib import Path

import helpers
import pytest
import systemd_oracle
import yaml
from helpers import PROBE, probe_records, run_probe, write_app
from kubelet_model import container_argv, container_environment
from supervisor_harness import Supervisor
from upstart_model import job_environment, main_process_argv, parse_job


def login_home(tmp_path: Path) -> Path:
    """A HOME whose login profile puts ~/bin, holding `apptool` (the probe), on PATH: the
    shape of an rbenv or nvm install. A shell that is not a login shell never finds it."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    tool = home / "bin" / "apptool"
    tool.write_text(f'#!/bin/sh\nexec {sys.executable} {PROBE} "$@"\n')
    tool.chmod(0o755)
    (home / ".profile").write_text('PATH="$HOME/bin:$PATH"\nexport PATH\n')
    for path in (tmp_path, home, home / "bin"):
        path.chmod(0o755)
    return home


def login_app(tmp_path: Path, command: str = "apptool web $PORT", **formation) -> Path:
    home = login_home(tmp_path)
    formation.setdefault("env", {})
    formation["env"] |= {"HOME": str(home), "PROBE_OUT": str(tmp_path / "probe-{PS}.jsonl")}
    return write_app(tmp_path / "shop", f"web: {command}\n", formation)


def export(app: Path, format_name: str, out: Path, *args: str) -> dict[str, str]:
    from installed import run_installed

    return helpers.export(run_installed, app, format_name, out, *args).files


def wait_for_record(path: Path) -> dict:
    """The probe's first record, once it has written it (bounded wait)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = probe_records(path)
        if records:
            return records[0]
        time.sleep(0.1)
    raise AssertionError(f"the probe never wrote {path}")


def ran(tmp_path: Path) -> list[dict]:
    return probe_records(tmp_path / "probe-web.1.jsonl")


@pytest.mark.skipif(not systemd_oracle.available(), reason="systemd is not installed")
@pytest.mark.parametrize("how", ["file", "option"])
def test_systemd_runs_the_command_through_a_login_shell(tmp_path, how):
    app = login_app(tmp_path, **({"login": True} if how == "file" else {}))
    files = export(app, "systemd", tmp_path / "units", *(["--login"] if how == "option" else []))
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    unit = units["shop-web@1.service"]
    argv = systemd_oracle.substitute_variables(unit.exec_start[0], unit.environment)
    assert argv == ["/bin/sh", "-l", "-c", "apptool web $PORT"]
    (record,) = run_probe(argv, unit.environment, app, tmp_path / "probe-web.1.jsonl")
    assert record["argv"] == ["web", "5000"]


@pytest.mark.skipif(not systemd_oracle.available(), reason="systemd is not installed")
def test_without_a_login_shell_the_tool_is_not_found(tmp_path):
    app = login_app(tmp_path)
    files = export(app, "systemd", tmp_path / "units")
    units, _ = systemd_oracle.load_units(files, "shop.target")
    unit = units["shop-web@1.service"]
    argv = systemd_oracle.substitute_variables(unit.exec_start[0], unit.environment)
    assert argv == ["/bin/sh", "-c", "apptool web $PORT"]
    env = unit.environment | {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, env=env, cwd=app, capture_output=True, text=True, check=False)
    assert result.returncode == 127  # the complaint in every peer's tracker: not found
    assert ran(tmp_path) == []


def test_upstart_runs_the_command_through_a_login_shell(tmp_path):
    app = login_app(tmp_path, login=True)
    files = export(app, "upstart", tmp_path / "jobs")
    job = parse_job("shop-web-1", files["shop-web-1.conf"])
    (record,) = run_probe(
        main_process_argv(job), job_environment(job), job.chdir, tmp_path / "probe-web.1.jsonl"
    )
    assert record["argv"] == ["web", "5000"]


def test_kubernetes_runs_the_command_through_a_login_shell(tmp_path):
    app = login_app(tmp_path, login=True)
    files = export(app, "kubernetes", tmp_path / "k8s", "--image", "shop:1")
    objects = {}
    for text in files.values():
        manifest = yaml.safe_load(text)
        if manifest.get("kind") != "Kustomization":
            objects[(manifest["kind"], manifest["metadata"]["name"])] = manifest
    (container,) = objects[("Deployment", "shop-web")]["spec"]["template"]["spec"]["containers"]
    env = container_environment(container, objects, "web.1")
    argv = container_argv(container, env)
    assert argv == ["/bin/sh", "-l", "-c", "apptool web $PORT"]
    (record,) = run_probe(argv, env, app, tmp_path / "probe-web.1.jsonl")
    assert record["argv"] == ["web", "5000"]


@pytest.mark.parametrize("env_mode", ["inline", "file"])
def test_a_real_supervisord_runs_the_command_through_a_login_shell(tmp_path, env_mode):
    app = login_app(tmp_path, "apptool web $PORT --wait", login=True, env={"PROBE_WAIT": "1"})
    (app / ".env").write_text("FROM_DOTENV='a b'\n")
    out = tmp_path / "conf"
    user = getpass.getuser()
    export(app, "supervisord", out, "-u", user, "--env-mode", env_mode)
    with Supervisor(out / "shop.conf") as supervisor:
        supervisor.wait_for({"shop:shop-web-1"})
        record = wait_for_record(tmp_path / "probe-web.1.jsonl")
    assert record["argv"] == ["web", "5000", "--wait"]
    assert record["env"]["FROM_DOTENV"] == "a b"
    assert record["env"]["PATH"].startswith(f"{tmp_path}/home/bin:")


def test_per_type_login_beats_the_app_wide_setting_and_the_option(tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: a\nworker: b\nclock: c\n",
        {"login": True, "process": {"worker": {"login": False}, "clock": {"login": True}}},
    )
    files = export(app, "systemd", tmp_path / "a")
    assert 'ExecStart=/bin/sh -l -c "a"' in files["shop-web@.service"]
    assert 'ExecStart=/bin/sh -c "b"' in files["shop-worker@.service"]
    files = export(app, "systemd", tmp_path / "b", "--no-login")
    assert 'ExecStart=/bin/sh -c "a"' in files["shop-web@.service"]
    assert 'ExecStart=/bin/sh -l -c "c"' in files["shop-clock@.service"]


def test_login_must_be_true_or_false(tmp_path):
    from installed import run_installed

    app = write_app(tmp_path / "shop", "web: a\n")
    (app / "formation.toml").write_text("login = 'yes'\n")
    result = run_installed("systemd", cwd=app)
    assert (result.status, result.stderr) == (
        2,
        "procexport: error: formation.toml:1: login: Input should be a valid boolean\n",
    )


def test_launchd_runs_the_command_through_a_login_shell(tmp_path):
    import plistlib

    app = login_app(tmp_path, login=True)
    files = export(app, "launchd", tmp_path / "agents")
    job = plistlib.loads(files["shop-web-1.plist"].encode("utf-8"))
    assert job["ProgramArguments"][:3] == ["/bin/sh", "-l", "-c"]
    (record,) = run_probe(
        job["ProgramArguments"],
        job["EnvironmentVariables"],
        job["WorkingDirectory"],
        tmp_path / "probe-web.1.jsonl",
    )
    assert record["argv"] == ["web", "5000"]
