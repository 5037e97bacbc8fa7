"""Inputs a format cannot carry as asked, refused with one line instead of a job that silently
replaces another or a command that never starts."""

from __future__ import annotations

import subprocess

import pytest
from helpers import REPO, snapshot, write_app
from test_errors import _stable_part

UPSTART_CLASH = (
    "upstart would write two jobs named 'app-web-1' (a type job and an instance job of another "
    "type): rename one of the process types"
)
BASH_READ_ONLY = (
    "/bin/bash cannot source UID (.env:1) from app.env: bash holds it read-only, so the command "
    "would never start; rename the variable or use another shell"
)


@pytest.mark.parametrize("procfile", ["web: a\nweb-1: b\n", "web-1: b\nweb: a\n"])
def test_upstart_refuses_a_type_job_that_would_replace_another_types_instance_job(
    procexport, tmp_path, procfile
):
    app = write_app(tmp_path / "app", procfile)
    out = tmp_path / "out"
    out.mkdir()
    result = procexport("upstart", str(out), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == f"procexport: error: {UPSTART_CLASH}\n"
    assert snapshot(out) == {}
    # the formats whose names cannot clash export both types
    assert procexport("systemd", cwd=app).status == 0


def test_bash_really_refuses_to_source_a_read_only_variable(tmp_path):
    """What the refusal below prevents: the sourcing script stops and the app never runs."""
    env_file = tmp_path / "app.env"
    env_file.write_text("UID='0'\n")
    script = 'set -a && . "$1" && exec "$2" -c "$0"'
    run = subprocess.run(
        ["/bin/bash", "-c", script, "echo started", str(env_file), "/bin/bash"],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "started" not in run.stdout


@pytest.mark.parametrize("fmt", ["supervisord", "upstart", "runit", "launchd"])
def test_a_bash_read_only_variable_is_refused_for_a_sourced_env_file(procexport, tmp_path, fmt):
    app = write_app(tmp_path / "app", "web: serve\n", {"app": "app"}, "UID=5\n")
    out = tmp_path / "out"
    result = procexport(fmt, str(out), "-s", "/bin/bash", "--env-mode", "file", cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == f"procexport: error: {BASH_READ_ONLY}\n"
    assert not out.exists()
    # dash sources it, as do the formats that never source it (systemd reads the file itself)
    assert procexport(fmt, str(out), "--env-mode", "file", cwd=app).status == 0


def test_readme_lists_these_messages():
    readme = (REPO / "README.md").read_text()
    for message in (UPSTART_CLASH, BASH_READ_ONLY):
        assert _stable_part(message) in readme
