"""`procexport FORMAT LOCATION --uninstall`: the sync of an empty rendering, then the manifest.
The same refusals as an export, all or nothing, and the steps that stop the app."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import PROBE_COMMAND, export, read_tree, snapshot, write_app
from installed import run_installed
from supervisor_harness import Supervisor

PROCFILE = "web: serve $PORT\nworker: work\n"
FORMATION = {"formation": {"web": 2, "worker": 1}, "kubernetes": {"image": "shop:1"}}
UNINSTALL_STEPS = {
    "systemd": ["systemctl disable --now shop.target", "systemctl daemon-reload"],
    "supervisord": ["supervisorctl reread", "supervisorctl update"],
    "upstart": ["initctl stop shop", "initctl reload-configuration"],
    "kubernetes": [
        "kubectl delete deployment shop-web",
        "kubectl delete service shop-web",
        "kubectl delete configmap shop-worker-env",
        "kubectl delete deployment shop-worker",
    ],
}


def exported(tmp_path: Path, format_name: str, *args: str) -> tuple[Path, Path]:
    app = write_app(tmp_path / "shop", PROCFILE, FORMATION)
    if format_name == "kubernetes":
        (app / "formation.toml").write_text(
            (app / "formation.toml").read_text() + "\n[process.worker.env]\nQ = '1'\n"
        )
    out = tmp_path / "out"
    result = export(run_installed, app, format_name, out, *args)
    assert result.status == 0, result.stderr
    return app, out


@pytest.mark.parametrize("format_name", sorted(UNINSTALL_STEPS))
def test_uninstall_removes_every_listed_file_and_the_manifest_and_says_how_to_stop(
    tmp_path, format_name
):
    app, out = exported(tmp_path, format_name)
    (out / "unrelated.conf").write_text("someone else's\n")
    if format_name != "kubernetes":  # one kustomization.yaml per directory: one app
        other = write_app(tmp_path / "other", "web: x $PORT\n")
        assert run_installed(format_name, str(out), "-q", cwd=other).status == 0
    others = {
        name: text for name, text in read_tree(out, manifests=True).items() if "other" in name
    }
    written = set(read_tree(out)) - set(others) - {"unrelated.conf"}
    result = run_installed(format_name, str(out), "--uninstall", cwd=app)
    assert result.status == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"procexport: {out}: 0 created, 0 changed, {len(written)} removed, 0 unchanged",
        "next:",
        *(f"  {step}" for step in UNINSTALL_STEPS[format_name]),
    ]
    assert read_tree(out, manifests=True) == others | {"unrelated.conf": "someone else's\n"}
    assert not [p for p in out.iterdir() if p.name.startswith("shop")], "directories left"


def test_an_edited_file_is_refused_and_nothing_is_removed_until_force(tmp_path):
    app, out = exported(tmp_path, "systemd")
    edited = out / "shop-web@.service"
    edited.write_text(edited.read_text() + "Nice=5\n")
    before = snapshot(out)
    result = run_installed("systemd", str(out), "--uninstall", cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"procexport: error: {edited}: refusing to remove a file that was edited since "
        "procexport wrote it (use --force to discard the edit)\n"
    )
    assert snapshot(out) == before
    forced = run_installed("systemd", str(out), "--uninstall", "--force", "-q", cwd=app)
    assert forced.status == 0, forced.stderr
    assert list(out.iterdir()) == []


def test_a_file_replaced_by_someone_else_is_refused(tmp_path):
    app, out = exported(tmp_path, "supervisord")
    (out / "shop.conf").unlink()
    (out / "shop.conf").write_text("[program:theirs]\ncommand=/bin/true\n")
    before = snapshot(out)
    result = run_installed("supervisord", str(out), "--uninstall", cwd=app)
    assert result.status == 2
    assert "refusing to remove a file that was edited" in result.stderr
    assert snapshot(out) == before


def test_a_listed_file_already_gone_is_not_an_error(tmp_path):
    app, out = exported(tmp_path, "upstart")
    (out / "shop-web-2.conf").unlink()
    result = run_installed("upstart", str(out), "--uninstall", "-q", cwd=app)
    assert result.status == 0, result.stderr
    assert list(out.iterdir()) == []


def test_dry_run_shows_the_removals_and_changes_nothing(tmp_path):
    app, out = exported(tmp_path, "systemd")
    before = snapshot(out)
    result = run_installed("systemd", str(out), "--uninstall", "--dry-run", cwd=app)
    assert result.status == 1
    assert "diff --procexport a/shop.target b/shop.target\ndeleted file mode 0644\n" in (
        result.stdout
    )
    assert "-Wants=shop-web.target\n" in result.stdout
    assert result.stdout.count("deleted file mode") == len(read_tree(out))
    assert snapshot(out) == before


def test_the_app_name_alone_is_enough_without_the_procfile(tmp_path):
    app, out = exported(tmp_path, "systemd")
    shutil.rmtree(app)
    result = run_installed("systemd", str(out), "--uninstall", "-a", "shop", "-q", cwd=tmp_path)
    assert result.status == 0, result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["systemd", "--uninstall"], "--uninstall needs a LOCATION to remove the app from"),
        (["systemd", "OUT", "--uninstall", "-a", "../x"], "invalid app name '../x'"),
        (
            ["supervisord", "OUT", "--uninstall"],
            "OUT: nothing to uninstall: no manifest .procexport.shop.supervisord.toml for app "
            "'shop' and format 'supervisord'",
        ),
    ],
)
def test_uninstall_without_a_location_or_a_manifest_is_an_error(tmp_path, args, message):
    app, out = exported(tmp_path, "systemd")
    before = snapshot(out)
    result = run_installed(*[str(out) if a == "OUT" else a for a in args], cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == f"procexport: error: {message.replace('OUT', str(out))}\n"
    assert snapshot(out) == before


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl is not installed")
def test_systemctl_disable_after_uninstall_drops_the_boot_link(tmp_path):
    """The printed step works once the files are gone: systemctl (offline, --root) removes the
    multi-user.target.wants link of a unit whose file no longer exists."""
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    app = write_app(tmp_path / "shop", PROCFILE)
    assert run_installed("systemd", str(units), "-q", cwd=app).status == 0
    enable = ["systemctl", f"--root={root}", "enable", "shop.target"]
    subprocess.run(enable, check=True, capture_output=True)
    link = units / "multi-user.target.wants" / "shop.target"
    assert link.is_symlink()
    result = run_installed("systemd", str(units), "--uninstall", cwd=app)
    assert result.status == 0, result.stderr
    assert "  systemctl disable --now shop.target\n" in result.stderr
    disable = ["systemctl", f"--root={root}", "disable", "shop.target"]  # --now needs a manager
    subprocess.run(disable, check=True, capture_output=True)
    assert not link.is_symlink()
    assert sorted(p.name for p in units.iterdir()) == []


def test_a_real_supervisord_stops_and_forgets_the_app_after_uninstall(tmp_path):
    app = write_app(
        tmp_path / "shop",
        f"web: {PROBE_COMMAND} web --wait\n",
        {"env": {"PROBE_WAIT": "1", "PROBE_OUT": str(tmp_path / "probe.jsonl")}},
    )
    out = tmp_path / "out"
    user = getpass.getuser()
    assert run_installed("supervisord", str(out), "-q", "-u", user, cwd=app).status == 0
    with Supervisor(out / "*.conf") as supervisor:
        supervisor.wait_for({"shop:shop-web-1"})
        result = run_installed("supervisord", str(out), "--uninstall", cwd=app)
        assert result.status == 0, result.stderr
        for step in UNINSTALL_STEPS["supervisord"]:
            supervisor.ctl(*step.split()[1:])
        assert supervisor.status() == {}
    assert list(out.iterdir()) == []
