"""Writing into LOCATION: manifest, stale removal, refusals, all-or-nothing, --dry-run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import INIT_FORMATS, export, read_tree, snapshot, write_app

import exporter.journal

PROCFILE = "web: serve\nworker: work\nclock: tick\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_app(tmp_path / "shop", PROCFILE)


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_a_manifest_records_every_file_written_with_hash_and_mode(procexport, shop, tmp_path, fmt):
    import hashlib
    import tomllib

    out = tmp_path / "out"
    assert export(procexport, shop, fmt, out).status == 0
    manifest = tomllib.loads((out / f".procexport.shop.{fmt}.toml").read_text())
    files = read_tree(out)
    assert set(manifest["files"]) == set(files)
    for name, text in files.items():
        assert manifest["files"][name] == f"0644 {hashlib.sha256(text.encode()).hexdigest()}"


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_scaling_down_removes_exactly_the_stale_files(procexport, shop, tmp_path, fmt):
    out = tmp_path / "out"
    export(procexport, shop, fmt, out, "-m", "web=3,worker=2,clock=1")
    before = set(read_tree(out))
    assert export(procexport, shop, fmt, out, "-m", "web=1,worker=2,clock=0").status == 0
    after = set(read_tree(out))
    fresh = tmp_path / "fresh"
    export(procexport, shop, fmt, fresh, "-m", "web=1,worker=2,clock=0")
    assert read_tree(out) == read_tree(fresh)
    if fmt != "supervisord":  # one file per app: nothing to remove, only rewritten
        assert before - after
    assert not [p for p in out.rglob("*") if p.is_dir() and not any(p.iterdir())]


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_a_type_removed_from_the_procfile_loses_its_files(procexport, shop, tmp_path, fmt):
    out = tmp_path / "out"
    export(procexport, shop, fmt, out)
    (shop / "Procfile").write_text("web: serve\n")
    assert export(procexport, shop, fmt, out).status == 0
    assert not [name for name in read_tree(out) if "worker" in name or "clock" in name]


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_apps_with_prefix_names_in_one_directory_never_touch_each_other(procexport, tmp_path, fmt):
    out = tmp_path / "out"
    apps = {name: write_app(tmp_path / name, PROCFILE) for name in ("shop", "shopify", "shop-x")}
    for app in apps.values():
        assert export(procexport, app, fmt, out, "-m", "all=2").status == 0
    others = {
        k: v
        for k, v in snapshot(out).items()
        if not k.startswith((".procexport.shop.", "shop.", "shop-web", "shop-worker", "shop-clock"))
    }
    (apps["shop"] / "Procfile").write_text("web: serve\n")
    assert export(procexport, apps["shop"], fmt, out, "-m", "all=0").status == 0
    assert export(procexport, apps["shop"], fmt, out, "-m", "web=1").status == 0
    after = snapshot(out)
    assert {k: after.get(k) for k in others} == others


def test_an_app_colliding_with_another_apps_type_is_refused(procexport, tmp_path):
    out = tmp_path / "out"
    export(procexport, write_app(tmp_path / "shop", "staging: serve\n"), "systemd", out)
    before = snapshot(out)
    collider = write_app(tmp_path / "shop-staging", "web: serve\n")
    result = export(procexport, collider, "systemd", out)
    assert result.status == 2
    assert "shop-staging.target: refusing to overwrite a file procexport did not write" in (
        result.stderr
    )
    assert snapshot(out) == before


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_a_hand_edited_file_is_refused_until_force_takes_it_over(procexport, shop, tmp_path, fmt):
    out = tmp_path / "out"
    export(procexport, shop, fmt, out)
    edited = out / {"systemd": "shop-web.target", "upstart": "shop-web.conf"}.get(fmt, "shop.conf")
    edited.write_text(edited.read_text() + "# tuned by hand\n")
    before = snapshot(out)
    result = export(procexport, shop, fmt, out, "-m", "web=2")
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: {edited}: refusing to overwrite a file that was edited since "
        "procexport wrote it (use --force to discard the edit)\n"
    )
    assert snapshot(out) == before
    assert export(procexport, shop, fmt, out, "-m", "web=2", "--force").status == 0
    assert "# tuned by hand" not in edited.read_text()
    assert export(procexport, shop, fmt, out, "-m", "web=2").status == 0


def test_a_mode_changed_by_hand_counts_as_an_edit(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    (out / "shop.target").chmod(0o600)
    (shop / "Procfile").write_text("web: serve\n")
    result = export(procexport, shop, "systemd", out)
    assert result.status == 2
    assert "shop.target: refusing to overwrite a file that was edited" in result.stderr


def test_a_foreign_file_is_refused_unless_identical(procexport, shop, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "shop.target").write_text("[Unit]\nDescription=someone else's\n")
    result = export(procexport, shop, "systemd", out)
    assert result.status == 2
    assert "refusing to overwrite a file procexport did not write (use --force" in result.stderr
    assert set(read_tree(out)) == {"shop.target"}

    reference = tmp_path / "reference"
    export(procexport, shop, "systemd", reference)
    (out / "shop.target").write_bytes((reference / "shop.target").read_bytes())
    assert export(procexport, shop, "systemd", out).status == 0
    assert read_tree(out) == read_tree(reference)


def test_a_stale_file_edited_by_hand_is_not_removed_without_force(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out, "-m", "all=2")
    stale = out / "shop-web@2.service.d" / "instance.conf"
    stale.write_text(stale.read_text() + "Environment=EXTRA=1\n")
    before = snapshot(out)
    result = export(procexport, shop, "systemd", out, "-m", "all=1")
    assert result.status == 2
    assert f"{stale}: refusing to remove a file that was edited" in result.stderr
    assert snapshot(out) == before
    assert export(procexport, shop, "systemd", out, "-m", "all=1", "--force").status == 0
    assert not stale.parent.exists()


def test_foreign_files_in_a_drop_in_directory_keep_it(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out, "-m", "web=2")
    mine = out / "shop-web@2.service.d" / "limits.conf"
    mine.write_text("[Service]\nLimitNOFILE=4096\n")
    assert export(procexport, shop, "systemd", out, "-m", "web=1").status == 0
    assert mine.read_text() == "[Service]\nLimitNOFILE=4096\n"
    assert not (out / "shop-web@2.service.d" / "instance.conf").exists()


def test_a_directory_where_a_file_must_go_fails_before_anything_is_written(
    procexport, shop, tmp_path
):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    (out / "shop-web@2.service.d" / "instance.conf").mkdir(parents=True)
    before = snapshot(out)
    result = export(procexport, shop, "systemd", out, "-m", "all=2")
    assert result.status == 2
    assert "is a directory where procexport must write a file" in result.stderr
    assert snapshot(out) == before


def test_a_failure_while_staging_leaves_location_exactly_as_it_was(
    procexport, shop, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    before = snapshot(out)
    real_stage = exporter.journal._stage
    calls = []

    def failing_stage(root, temp, change):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", temp)
        return real_stage(root, temp, change)

    monkeypatch.setattr(exporter.journal, "_stage", failing_stage)
    result = export(procexport, shop, "systemd", out, "-m", "all=3")
    assert result.status == 2
    assert "No space left on device" in result.stderr
    assert snapshot(out) == before


def test_a_failed_first_export_does_not_leave_a_new_location_behind(
    procexport, shop, tmp_path, monkeypatch
):
    def failing_stage(root, temp, change):
        raise OSError(28, "No space left on device", temp)

    monkeypatch.setattr(exporter.journal, "_stage", failing_stage)
    out = tmp_path / "new" / "units"
    assert export(procexport, shop, "systemd", out).status == 2
    assert not out.exists()


def test_an_unreadable_manifest_is_an_error_unless_forced(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    (out / ".procexport.shop.systemd.toml").write_text("not = [toml")
    result = export(procexport, shop, "systemd", out)
    assert result.status == 2
    assert "is not a manifest procexport can read" in result.stderr
    assert export(procexport, shop, "systemd", out, "--force").status == 0


def test_a_manifest_naming_a_path_outside_location_is_refused(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (out / ".procexport.shop.systemd.toml").write_text('[files]\n"../victim" = "0644 x"\n')
    result = export(procexport, shop, "systemd", out, "-m", "all=0")
    assert result.status == 2
    assert "is not a manifest procexport can read" in result.stderr
    assert export(procexport, shop, "systemd", out, "-m", "all=0", "--force").status == 0
    assert victim.read_text() == "keep me"


# --dry-run


def test_dry_run_prints_a_diff_writes_nothing_and_exits_1(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out, "-m", "all=2")
    before = snapshot(out)
    result = procexport("systemd", str(out), "--dry-run", "-m", "all=1,web=3", cwd=shop)
    assert result.status == 1
    assert snapshot(out) == before
    assert "--- a/shop-web.target\n+++ b/shop-web.target\n" in result.stdout
    assert "+Wants=shop-web@3.service\n" in result.stdout
    assert "new file mode 0644\n--- a/shop-web@3.service.d/instance.conf\n" in result.stdout
    assert "deleted file mode 0644\n--- a/shop-worker@2.service.d/instance.conf\n" in (
        result.stdout
    )
    assert '-Environment="PS=worker.2"\n' in result.stdout
    assert "\033[" not in result.stdout


def test_dry_run_over_an_unchanged_export_exits_0_and_prints_nothing(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "upstart", out)
    result = procexport("upstart", str(out), "--dry-run", cwd=shop)
    assert (result.status, result.stdout, result.stderr) == (0, "", "")


def test_dry_run_into_a_missing_location_shows_creations_and_creates_nothing(
    procexport, shop, tmp_path
):
    out = tmp_path / "missing"
    result = procexport("supervisord", str(out), "--dry-run", cwd=shop)
    assert result.status == 1
    assert "new file mode 0644\n--- a/shop.conf\n+++ b/shop.conf\n" in result.stdout
    assert not out.exists()


def test_dry_run_reports_refusals_as_errors(procexport, shop, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "shop.conf").write_text("[program:mine]\ncommand=true\n")
    result = procexport("supervisord", str(out), "--dry-run", cwd=shop)
    assert result.status == 2
    assert "refusing to overwrite a file procexport did not write" in result.stderr


def test_dry_run_shows_mode_changes(procexport, shop, tmp_path):
    out = tmp_path / "out"
    reference = tmp_path / "reference"
    export(procexport, shop, "supervisord", reference)
    out.mkdir()
    (out / "shop.conf").write_bytes((reference / "shop.conf").read_bytes())
    (out / "shop.conf").chmod(0o600)
    result = procexport("supervisord", str(out), "--dry-run", "--force", cwd=shop)
    assert result.status == 1
    assert (
        result.stdout == "diff --procexport a/shop.conf b/shop.conf\nold mode 0600\nnew mode 0644\n"
    )


def test_dry_run_colors_only_when_asked_or_on_a_terminal(procexport, shop, tmp_path):
    out = tmp_path / "out"
    result = procexport("systemd", str(out), "--dry-run", "--color", "always", cwd=shop)
    assert "\033[32m+[Unit]\033[0m\n" in result.stdout
    result = procexport("systemd", str(out), "--dry-run", "--color", "never", cwd=shop)
    assert "\033[" not in result.stdout


# after a write


def test_a_write_reports_counts_and_next_steps_on_stderr(procexport, shop, tmp_path):
    out = tmp_path / "out"
    first = procexport("systemd", str(out), "-m", "all=2", cwd=shop)
    assert first.stdout == ""
    assert first.stderr.startswith(f"procexport: {out}: 13 created, 0 changed, 0 removed")
    assert "  systemctl daemon-reload\n  systemctl enable --now shop.target\n" in first.stderr
    second = procexport("systemd", str(out), "-m", "all=1", cwd=shop)
    assert "0 created, 3 changed, 3 removed, 7 unchanged" in second.stderr
    assert (
        "  systemctl stop shop-clock@2.service shop-web@2.service shop-worker@2.service\n"
        in second.stderr
    )
    assert "  systemctl restart shop.target\n" in second.stderr


@pytest.mark.parametrize(
    ("fmt", "step"),
    [("supervisord", "supervisorctl reread"), ("upstart", "initctl reload-configuration")],
)
def test_next_steps_name_each_formats_reload(procexport, shop, tmp_path, fmt, step):
    result = procexport(fmt, str(tmp_path / "out"), cwd=shop)
    assert f"  {step}\n" in result.stderr


def test_quiet_silences_the_summary(procexport, shop, tmp_path):
    result = procexport("systemd", str(tmp_path / "out"), "-q", cwd=shop)
    assert (result.status, result.stdout, result.stderr) == (0, "", "")


def test_nothing_is_written_on_bad_input(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    before = snapshot(out)
    (shop / "Procfile").write_text("web: serve\nbad line\n")
    assert export(procexport, shop, "systemd", out).status == 2
    assert snapshot(out) == before
    assert not [p for p in os.listdir(out) if p.startswith(".procexport-tmp-")]


def test_next_steps_stop_instances_of_a_removed_type_but_never_a_template(
    procexport, shop, tmp_path
):
    out = tmp_path / "out"
    procexport("systemd", str(out), "-m", "all=1", cwd=shop)
    (shop / "Procfile").write_text("web: serve\n")
    result = procexport("systemd", str(out), cwd=shop)
    assert (
        "  systemctl stop shop-clock.target shop-clock@1.service shop-worker.target "
        "shop-worker@1.service\n" in result.stderr
    )
    assert "@.service" not in result.stderr
