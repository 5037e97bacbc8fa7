"""--env-mode file: values from .env files go to a 0600 env file, never into a 0644 one, and
every process still receives every value exactly."""

from __future__ import annotations

import getpass
import os
import pwd
import subprocess
from pathlib import Path

import pytest
import systemd_oracle
from helpers import (
    INIT_FORMATS,
    NASTY_COMMANDS,
    NASTY_VALUES,
    dotenv_line,
    expected_port,
    probe_records,
    read_tree,
    sh_c_reference,
    wait_for_probe_records,
    write_app,
)
from supervisor_harness import BASE_ENVIRONMENT, Supervisor, execv_args, load_programs
from systemd_envfile_model import parse_env_file
from upstart_model import UPSTART_DEFAULT_ENV, job_environment, main_process_argv, parse_job

USER = getpass.getuser()
SECRET_FREE = {"PUBLIC": "shown in the unit"}


def app_with_secrets(tmp_path: Path, commands: dict[str, str], **formation) -> Path:
    procfile = "".join(f"{name}: {command}\n" for name, command in commands.items())
    dotenv = "".join(dotenv_line(k, v) for k, v in NASTY_VALUES.items())
    formation.setdefault("env", {})
    formation["env"] |= SECRET_FREE | {"PROBE_WAIT": "1", "PROBE_OUT": str(tmp_path / "p-{PS}")}
    formation.setdefault("env_mode", "file")
    return write_app(tmp_path / "app", procfile, formation, dotenv)


def raw_text(path: Path) -> str:
    """The file as systemd reads it: no universal-newline translation of CR."""
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_no_secret_value_lands_in_a_world_readable_file(procexport, tmp_path, fmt):
    app = app_with_secrets(tmp_path, {"web": "serve"})
    (app / ".env").write_text('DB_PASSWORD="hunter2-secret"\n')
    out = tmp_path / "out"
    result = procexport(fmt, str(out), "-u", USER, cwd=app)
    assert result.status == 0, result.stderr
    env_file = out / "app.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert "hunter2-secret" in env_file.read_text()
    for path in out.rglob("*"):
        if path.is_file() and path != env_file:
            assert "hunter2-secret" not in path.read_text(), path
            assert path.stat().st_mode & 0o077 in (0o044, 0o000)
    assert "shown in the unit" in "".join(read_tree(out).values())


def test_systemd_loads_the_env_file_and_keeps_port_per_instance(procexport, tmp_path):
    app = app_with_secrets(tmp_path, {"web": "serve"}, formation={"web": 2})
    (app / ".env").write_text(raw_text(app / ".env") + "PORT=8000\nPS=nope\n")
    out = tmp_path / "out"
    assert procexport("systemd", str(out), cwd=app).status == 0
    units, warnings = systemd_oracle.load_units(read_tree(out), "app.target")
    assert warnings == []
    web2 = units["app-web@2.service"]
    assert web2.properties["EnvironmentFile"] == [f"{out}/app.env"]
    assert (web2.environment["PORT"], web2.environment["PS"]) == ("8001", "web.2")
    assert not set(NASTY_VALUES) & set(web2.environment)
    loaded = parse_env_file(raw_text(out / "app.env"))
    assert loaded == NASTY_VALUES
    assert "PORT" not in loaded and "PS" not in loaded


def test_a_process_override_of_a_dotenv_value_gets_a_file_of_its_own(procexport, tmp_path):
    app = app_with_secrets(
        tmp_path,
        {"web": "serve", "worker": "work"},
        process={"worker": {"env": {"PLAIN": "worker's own"}}},
    )
    out = tmp_path / "out"
    assert procexport("systemd", str(out), cwd=app).status == 0
    assert parse_env_file(raw_text(out / "app-web.env")) == NASTY_VALUES
    worker_secrets = parse_env_file(raw_text(out / "app-worker.env"))
    assert worker_secrets == {k: v for k, v in NASTY_VALUES.items() if k != "PLAIN"}
    units, _ = systemd_oracle.load_units(read_tree(out), "app.target")
    assert units["app-worker@1.service"].environment["PLAIN"] == "worker's own"


def test_a_real_supervisord_sources_every_value_exactly(procexport, tmp_path):
    app = app_with_secrets(tmp_path, NASTY_COMMANDS)
    out = tmp_path / "out"
    assert procexport("supervisord", str(out), "-u", USER, cwd=app).status == 0
    programs = load_programs(out / "app.conf")
    argv = execv_args(programs["app-quotes-1"])
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3] == NASTY_COMMANDS["quotes"]
    names = {f"app:app-{name}-1" for name in NASTY_COMMANDS}
    wanted = {}
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        env = (
            BASE_ENVIRONMENT
            | NASTY_VALUES
            | SECRET_FREE
            | {
                "PORT": str(expected_port(index)),
                "PS": f"{name}.1",
            }
        )
        wanted[name] = sh_c_reference(command, env, app, tmp_path / f"ref-{name}")
    with Supervisor(out / "app.conf") as supervisor:
        supervisor.wait_for(names)
        got = {
            name: wait_for_probe_records(tmp_path / f"p-{name}.1", len(want))
            for name, want in wanted.items()
        }
    for name, want in wanted.items():
        assert got[name] == want, name


def test_upstart_jobs_source_every_value_exactly(procexport, tmp_path):
    app = app_with_secrets(tmp_path, NASTY_COMMANDS)
    out = tmp_path / "out"
    assert procexport("upstart", str(out), cwd=app).status == 0
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        job = parse_job(f"app-{name}-1", raw_text(out / f"app-{name}-1.conf"))
        assert not set(NASTY_VALUES) & set(job.env)
        env = job_environment(job) | {"PROBE_OUT": str(tmp_path / "got"), "PROBE_WAIT": "0"}
        (tmp_path / "got").unlink(missing_ok=True)
        subprocess.run(main_process_argv(job), env=env, cwd=job.chdir, check=True, timeout=30)
        intended = (
            UPSTART_DEFAULT_ENV
            | NASTY_VALUES
            | SECRET_FREE
            | {
                "PORT": str(expected_port(index)),
                "PS": f"{name}.1",
                "PROBE_WAIT": "0",
            }
        )
        want = sh_c_reference(command, intended, app, tmp_path / f"ref-{name}")
        assert probe_records(tmp_path / "got") == want, name


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_the_env_file_belongs_to_the_account_that_sources_it(procexport, tmp_path):
    app = app_with_secrets(tmp_path, {"web": "serve"})
    out = tmp_path / "out"
    assert procexport("supervisord", str(out), "-u", "nobody", cwd=app).status == 0
    info = (out / "app.env").stat()
    assert info.st_uid == pwd.getpwnam("nobody").pw_uid
    assert info.st_mode & 0o777 == 0o600


def test_an_account_missing_here_is_left_to_the_operator(procexport, tmp_path):
    app = app_with_secrets(tmp_path, {"web": "serve"})
    out = tmp_path / "out"
    result = procexport("upstart", str(out), "-u", "no-such-user-here", cwd=app)
    assert result.status == 0
    assert f"  chown no-such-user-here {out}/app.env\n" in result.stderr


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_file_mode_needs_a_location(procexport, tmp_path, fmt):
    app = app_with_secrets(tmp_path, {"web": "serve"})
    result = procexport(fmt, cwd=app)
    assert result.status == 2
    assert "--env-mode file needs a LOCATION" in result.stderr


def test_the_command_line_overrides_env_mode_from_the_file(procexport, tmp_path):
    app = app_with_secrets(tmp_path, {"web": "serve"}, env_mode="file")
    (app / ".env").write_text("A=1\n")
    result = procexport("systemd", "--env-mode", "inline", cwd=app)
    assert result.status == 0
    assert 'Environment="A=1"' in result.stdout
    assert procexport("systemd", "--env-mode", "secret", cwd=app).status == 2
