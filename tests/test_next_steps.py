"""Next steps name units, jobs and programs the format said its files belong to (File.unit),
and find the same ones again for files a write removes (Format.unit_of)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_app

from exporter.formation import Options, load_formation
from exporter.formats import FORMAT_NAMES, Install, get_format, render
from exporter.plan import build_plan

PROCFILE = "release: migrate\nweb: serve\nworker: work\n"


def next_steps(stderr: str) -> list[str]:
    """The steps a summary lists under `next:`."""
    lines = stderr.splitlines()
    if "next:" not in lines:
        return []
    return [line.removeprefix("  ") for line in lines[lines.index("next:") + 1 :]]


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_removed_file_is_given_the_unit_its_rendered_file_named(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PROCEXPORT_SECRET_KEY", "next-steps-test-key-0123456789abcdef")
    app = write_app(
        tmp_path / "app",
        PROCFILE,
        {"app": "shop", "formation": {"web": 2}, "kubernetes": {"image": "shop:1"}},
        "SECRET=s3cret\n",
    )
    writes_default_user = get_format(name).writes_default_user
    options = Options(env_mode="file", default_user=writes_default_user)
    fmt = get_format(name)
    plan = build_plan(load_formation(options, app, read_settings=fmt.read_settings))
    rendering = render(name, plan, install=Install.at(tmp_path / "out"))
    for path, file in rendering.items():
        found = fmt.unit_of(path)
        if name == "kubernetes" and path.endswith("-job.yaml"):  # its name carries a digest
            assert file.unit is not None and file.unit.startswith(f"{found}-"), path
        else:
            assert found == file.unit, path
        holds_no_unit = path.endswith(".env") or path == "kustomization.yaml"
        assert (file.unit is None) == holds_no_unit, path


def test_upstart_stops_each_removed_job_and_restarts_the_app_when_a_job_changed(
    procexport, tmp_path
):
    app = write_app(tmp_path / "app", "web: serve\nworker: work\n", {"app": "shop"})
    out = tmp_path / "out"
    first = procexport("upstart", str(out), "-m", "web=2,worker=1", cwd=app)
    assert next_steps(first.stderr) == ["initctl reload-configuration", "initctl start shop"]
    (app / "Procfile").write_text("web: serve --fast\n")
    second = procexport("upstart", str(out), cwd=app)
    assert next_steps(second.stderr) == [
        "initctl stop shop-web-2",
        "initctl stop shop-worker-1",
        "initctl stop shop-worker",
        "initctl reload-configuration",
        "initctl stop shop",
        "initctl start shop",
    ]
    uninstall = procexport("upstart", str(out), "--uninstall", "-a", "shop", cwd=app)
    assert next_steps(uninstall.stderr) == ["initctl stop shop", "initctl reload-configuration"]


def test_upstart_stops_no_job_for_a_removed_env_file(procexport, tmp_path):
    app = write_app(tmp_path / "app", "web: serve\n", {"app": "shop"}, "SECRET=s3cret\n")
    out = tmp_path / "out"
    procexport("upstart", str(out), "--env-mode", "file", cwd=app)
    assert (out / "shop.env").is_file()
    result = procexport("upstart", str(out), "--env-mode", "inline", cwd=app)
    assert not (out / "shop.env").exists()
    assert next_steps(result.stderr) == [
        "initctl reload-configuration",
        "initctl stop shop",
        "initctl start shop",
    ]


def test_supervisord_rereads_and_updates_after_every_write_and_uninstall(procexport, tmp_path):
    app = write_app(tmp_path / "app", "web: serve\nworker: work\n", {"app": "shop"})
    out = tmp_path / "out"
    steps = ["supervisorctl reread", "supervisorctl update"]
    first = procexport("supervisord", str(out), "-m", "web=2", cwd=app)
    assert next_steps(first.stderr) == steps
    scaled = procexport("supervisord", str(out), "-m", "web=1", cwd=app)
    assert "0 created, 1 changed" in scaled.stderr
    assert next_steps(scaled.stderr) == steps
    unchanged = procexport("supervisord", str(out), "-m", "web=1", cwd=app)
    assert next_steps(unchanged.stderr) == []
    uninstall = procexport("supervisord", str(out), "--uninstall", "-a", "shop", cwd=app)
    assert next_steps(uninstall.stderr) == steps
    assert not Path(out, "shop.conf").exists()
