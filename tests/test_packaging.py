"""--destdir and --manifest: a package build writes under DIR + LOCATION, names only installed
paths, ships no manifest, chowns nothing and says what the package's scripts must do."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

import pytest
import systemd_oracle
from helpers import INIT_FORMATS, REPO, read_tree, snapshot, write_app

from exporter.formats import get_format
from exporter.packaging import package_steps

PROCFILE = "web: serve\nworker: work\n"
INSTALLED = "/etc/app/units"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    app = write_app(
        tmp_path / "app",
        PROCFILE,
        {"root": "/srv/app", "env_mode": "file", "env": {"PLAIN": "1"}},
        "SECRET='hunter2'\n",
    )
    return app


def every_file(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", INIT_FORMATS)
def test_files_go_under_destdir_and_name_only_installed_paths(procexport, app, tmp_path, fmt):
    staging = tmp_path / "stage"
    result = procexport(fmt, INSTALLED, "--destdir", str(staging), "-l", "/var/log/app", cwd=app)
    assert result.status == 0, result.stderr
    assert {p.relative_to(staging).parts[:2] for p in staging.rglob("*") if p.is_file()} == {
        ("etc", "app")
    }
    files = every_file(staging)
    assert "etc/app/units/app.env" in files
    for name, content in files.items():
        assert str(tmp_path).encode() not in content, name
        assert not Path(name).name.startswith(".procexport"), name
    text = b"".join(files.values()).decode()
    assert f"{INSTALLED}/app.env" in text
    assert "/var/log/app/" in text or fmt == "systemd"


def test_systemd_reads_the_installed_env_file_and_log_paths(procexport, app, tmp_path):
    staging = tmp_path / "stage"
    args = ("--destdir", str(staging), "-l", "/var/log/app")
    assert procexport("systemd", INSTALLED, *args, cwd=app).status == 0
    units, warnings = systemd_oracle.load_units(
        read_tree(staging / INSTALLED.lstrip("/")), "app.target"
    )
    assert warnings == []
    web = units["app-web@1.service"]
    assert web.properties["EnvironmentFile"] == [f"{INSTALLED}/app.env"]
    assert web.get("StandardOutputFileToAppend") == "/var/log/app/app-web-1.log"


def test_modes_are_those_the_package_installs(procexport, app, tmp_path):
    staging = tmp_path / "stage"
    assert procexport("upstart", INSTALLED, "--destdir", str(staging), cwd=app).status == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in (staging / "etc/app/units").iterdir()}
    assert modes.pop("app.env") == 0o600
    assert set(modes.values()) == {0o644}


def test_location_must_be_absolute_with_destdir(procexport, app, tmp_path):
    result = procexport("systemd", "etc/units", "--destdir", str(tmp_path / "s"), cwd=app)
    assert result.status == 2
    assert "--destdir: LOCATION 'etc/units' must be absolute" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("option", ["--destdir", "--manifest"])
def test_packaging_options_need_a_location_and_a_path(procexport, app, tmp_path, option):
    result = procexport("systemd", option, str(tmp_path / "x"), "--env-mode", "inline", cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert f"{option} needs a LOCATION" in result.stderr
    result = procexport("systemd", INSTALLED, option, "", cwd=app)
    assert result.status == 2
    assert f"{option} is empty: give a value, or leave it out for the default" in result.stderr


def test_a_manifest_inside_the_staging_tree_is_refused(procexport, app, tmp_path):
    staging = tmp_path / "stage"
    manifest = staging / "var/lib/procexport/app.toml"
    result = procexport(
        "systemd", INSTALLED, "--destdir", str(staging), "--manifest", str(manifest), cwd=app
    )
    assert result.status == 2
    assert "so it would ship in the package" in result.stderr
    assert not staging.exists()


def test_a_manifest_outside_the_tree_records_the_files(procexport, app, tmp_path):
    staging, manifest = tmp_path / "stage", tmp_path / "build" / "app.systemd.toml"
    args = ("--destdir", str(staging), "--manifest", str(manifest), "-q")
    assert procexport("systemd", INSTALLED, *args, cwd=app).status == 0
    import tomllib

    recorded = tomllib.loads(manifest.read_text())["files"]
    assert set(recorded) == set(read_tree(staging / "etc/app/units"))
    # with the manifest, scaling down removes the stale instance from the tree
    assert procexport("systemd", INSTALLED, *args, "-m", "web=2", cwd=app).status == 0
    assert (staging / "etc/app/units/app-web@2.service.d/instance.conf").exists()
    assert procexport("systemd", INSTALLED, *args, "-m", "web=1", cwd=app).status == 0
    assert not (staging / "etc/app/units/app-web@2.service.d").exists()


def test_without_a_manifest_a_different_file_is_refused_and_nothing_removed(
    procexport, app, tmp_path
):
    staging = tmp_path / "stage"
    units = staging / "etc/app/units"
    args = ("--destdir", str(staging), "-q")
    assert procexport("systemd", INSTALLED, *args, "-m", "web=2,worker=1", cwd=app).status == 0
    # the same build again changes nothing and needs no --force
    before = snapshot(staging)
    assert procexport("systemd", INSTALLED, *args, "-m", "web=2,worker=1", cwd=app).status == 0
    assert snapshot(staging) == before
    (app / "Procfile").write_text("web: serve --changed\nworker: work\n")
    refused = procexport("systemd", INSTALLED, *args, "-m", "web=2,worker=1", cwd=app)
    assert refused.status == 2
    assert refused.stderr == (
        f"procexport: error: {units}/app-web@.service: refusing to overwrite a file that "
        "differs, with no manifest to show procexport wrote it (use --force to replace it)\n"
    )
    assert snapshot(staging) == before
    forced = procexport("systemd", INSTALLED, *args, "-m", "web=1,worker=1", "--force", cwd=app)
    assert forced.status == 0
    assert "--changed" in (units / "app-web@.service").read_text()
    assert (units / "app-web@2.service.d/instance.conf").exists()  # removes nothing


def test_manifest_without_destdir_keeps_location_to_the_configuration(procexport, app, tmp_path):
    out, manifest = tmp_path / "out", tmp_path / "state" / "app.toml"
    args = ("--manifest", str(manifest), "-q")
    assert procexport("supervisord", str(out), *args, cwd=app).status == 0
    assert sorted(os.listdir(out)) == ["app.conf", "app.env"]
    assert manifest.is_file()
    (out / "app.conf").write_text("edited\n")
    result = procexport("supervisord", str(out), *args, cwd=app)
    assert "refusing to overwrite a file that was edited" in result.stderr


def test_a_manifest_that_names_a_file_of_the_export_is_refused(procexport, app, tmp_path):
    out = tmp_path / "out"
    result = procexport("systemd", str(out), "--manifest", str(out / "app.target"), cwd=app)
    assert result.status == 2
    assert "the export writes a file there" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("spelling", ["link to LOCATION", "link to its parent", "double slash"])
def test_a_manifest_that_names_a_file_of_the_export_another_way_is_refused(
    procexport, app, tmp_path, spelling
):
    """The same file however LOCATION and --manifest spell it: not a unit overwritten by the
    manifest, which every later export would then refuse as edited."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "lnk").symlink_to("out")
    location, manifest = {
        "link to LOCATION": (tmp_path / "lnk", out / "app.target"),
        "link to its parent": (out, tmp_path / "lnk" / "app.target"),
        "double slash": (Path("/" + str(out)), out / "app.target"),
    }[spelling]
    before = snapshot(tmp_path)
    for dry_run in ((), ("--dry-run",)):
        args = ("--manifest", str(manifest), *dry_run)
        result = procexport("systemd", str(location), *args, cwd=app)
        assert result.status == 2, result.stderr
        assert "the export writes a file there; choose another path" in result.stderr
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("fmt", "inside", "message"),
    [
        ("systemd", "app-web@1.service.d/m.toml", "lies in a directory the export writes into"),
        ("runit", "app-web-1/m.toml", "lies in a directory the export writes into"),
        ("runit", "app-web-1/log/m.toml", "lies in a directory the export writes into"),
        ("systemd", "app-web@1.service.d", "the export makes a directory there"),
        ("runit", "app-web-1", "the export makes a directory there"),
    ],
)
def test_a_manifest_in_or_at_a_directory_the_export_makes_is_refused_before_any_write(
    procexport, app, tmp_path, fmt, inside, message
):
    """Not "File exists" from a real export after --dry-run said it would work."""
    out = tmp_path / "out"
    out.mkdir()
    for dry_run in (("--dry-run",), ()):
        result = procexport(fmt, str(out), "--manifest", str(out / inside), *dry_run, cwd=app)
        assert result.status == 2, result.stderr
        assert message in result.stderr
        assert list(out.iterdir()) == []


def test_a_link_in_place_of_locations_own_manifest_is_refused_as_a_link_and_forced(
    procexport, app, tmp_path
):
    """Not the --manifest message when no --manifest was given; --force replaces the link,
    never its target."""
    out, target = tmp_path / "out", tmp_path / "target"
    out.mkdir()
    target.write_text("not ours\n")
    link = out / ".procexport.app.systemd.toml"
    link.symlink_to(target)
    refused = procexport("systemd", str(out), "-q", cwd=app)
    assert refused.status == 2
    assert "is a symbolic link inside LOCATION" in refused.stderr
    assert "--manifest" not in refused.stderr
    assert procexport("systemd", str(out), "-q", "--force", cwd=app).status == 0
    assert not link.is_symlink() and link.read_text().startswith("#")
    assert target.read_text() == "not ours\n"


def test_a_manifest_of_its_own_beside_the_files_still_works(procexport, app, tmp_path):
    out = tmp_path / "out"
    args = ("--manifest", str(out / "state.toml"), "-q")
    assert procexport("systemd", str(out), *args, cwd=app).status == 0
    assert (out / "state.toml").read_text().startswith("#")
    assert procexport("systemd", str(out), *args, "--dry-run", cwd=app).status == 0


def test_a_key_file_named_through_a_link_to_location_is_refused(procexport, app, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "lnk").symlink_to("out")
    result = procexport(
        "systemd", str(tmp_path / "lnk"), "--manifest", str(out / ".procexport.key"), cwd=app
    )
    assert result.status == 2
    assert "procexport keeps a file of its own there" in result.stderr


def test_dry_run_compares_with_the_staging_tree(procexport, app, tmp_path):
    staging = tmp_path / "stage"
    args = ("--destdir", str(staging), "--color", "never")
    first = procexport("upstart", INSTALLED, *args, "--dry-run", cwd=app)
    assert first.status == 1
    assert "diff --procexport a/app.conf b/app.conf\nnew file mode 0644\n" in first.stdout
    assert not staging.exists()
    assert procexport("upstart", INSTALLED, *args, "-q", cwd=app).status == 0
    again = procexport("upstart", INSTALLED, *args, "--dry-run", cwd=app)
    assert (again.status, again.stdout) == (0, "")


def test_nothing_is_chowned_into_the_staging_tree(procexport, app, tmp_path):
    staging = tmp_path / "stage"
    args = ("--destdir", str(staging), "-u", "nobody")
    result = procexport("supervisord", INSTALLED, *args, cwd=app)
    assert result.status == 0
    assert (staging / "etc/app/units/app.env").stat().st_uid == os.geteuid()
    assert f"  postinst: chown nobody {INSTALLED}/app.env" in result.stderr
    assert f"%attr(0600,nobody,-) {INSTALLED}/app.env" in result.stderr
    if os.geteuid() == 0:  # the same export without --destdir does give it away
        out = tmp_path / "out"
        assert procexport("supervisord", str(out), "-u", "nobody", cwd=app).status == 0
        assert (out / "app.env").stat().st_uid == pwd.getpwnam("nobody").pw_uid


@pytest.mark.parametrize(
    ("fmt", "lines"),
    [
        (
            "systemd",
            [
                "postinst: systemctl daemon-reload && systemctl enable --now app.target",
                "prerm: systemctl stop app.target",
                "%systemd_post app.target",
                f"keep {INSTALLED}/app.env 0600: dh_fixperms makes it 0644 unless told "
                "`dh_fixperms -Xapp.env`; RPM %files: %attr(0600,root,root) "
                f"{INSTALLED}/app.env",
            ],
        ),
        ("supervisord", ["postinst: supervisorctl reread && supervisorctl update"]),
        ("upstart", ["postinst: initctl reload-configuration && initctl start app"]),
    ],
)
def test_the_summary_is_for_the_maintainer_scripts(procexport, app, tmp_path, fmt, lines):
    result = procexport(fmt, INSTALLED, "--destdir", str(tmp_path / "stage"), cwd=app)
    assert result.stderr.startswith(f"procexport: {tmp_path}/stage{INSTALLED}: ")
    assert "\nnothing was run or chowned here; in the package:\n" in result.stderr
    assert "\nnext:" not in result.stderr
    for line in lines:
        assert line in result.stderr
    # the same hints on a second, unchanged build
    again = procexport(fmt, INSTALLED, "--destdir", str(tmp_path / "stage"), cwd=app)
    assert again.stderr.split("\n", 1)[1] == result.stderr.split("\n", 1)[1]


def test_kubernetes_manifests_are_applied_after_install(procexport, tmp_path, monkeypatch):
    monkeypatch.setenv("PROCEXPORT_SECRET_KEY", "k" * 32)
    app = write_app(tmp_path / "app", PROCFILE, {"kubernetes": {"image": "img:1"}}, "S=x\n")
    result = procexport(
        "kubernetes", "/usr/share/app/k8s", "--destdir", str(tmp_path / "s"), cwd=app
    )
    assert result.status == 0, result.stderr
    assert "kubectl apply -k /usr/share/app/k8s" in result.stderr
    assert "%attr(0600,root,root) /usr/share/app/k8s/app-secret.yaml" in result.stderr


def test_kubernetes_secrets_without_a_place_for_the_key_are_refused_in_a_package_build(
    procexport, tmp_path, monkeypatch
):
    """No key file may ship in the tree, and a fresh key per build would roll every pod."""
    monkeypatch.delenv("PROCEXPORT_SECRET_KEY", raising=False)
    app = write_app(tmp_path / "app", PROCFILE, {"kubernetes": {"image": "img:1"}}, "S=x\n")
    stage = tmp_path / "s"
    result = procexport("kubernetes", "/usr/share/app/k8s", "--destdir", str(stage), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        "procexport: error: --destdir without --manifest has no place for the key of the "
        "config-hash over secrets: set PROCEXPORT_SECRET_KEY (the same for every build) or give "
        "--manifest PATH\n"
    )
    assert not stage.exists()


def test_a_format_without_package_hints_gets_its_next_steps_after_install():
    fmt = get_format("upstart")._replace(package_steps=None)
    steps = package_steps(fmt, "app", Path(INSTALLED), {})
    assert steps == [
        "after install: initctl reload-configuration",
        "after install: initctl start app",
    ]


def test_the_default_root_is_refused_as_a_path_of_the_build_machine(procexport, tmp_path):
    app = write_app(tmp_path / "app", PROCFILE)
    result = procexport("systemd", INSTALLED, "--destdir", str(tmp_path / "s"), cwd=app)
    assert result.status == 2
    assert "--destdir: name the working directory as installed with --root" in result.stderr
    ok = procexport("systemd", INSTALLED, "--destdir", str(tmp_path / "s"), "-d", "/srv", cwd=app)
    assert ok.status == 0, ok.stderr


@pytest.mark.parametrize("option", ["--log", "--root"])
def test_a_relative_root_or_log_is_refused_with_destdir(procexport, app, tmp_path, option):
    result = procexport(
        "systemd", INSTALLED, "--destdir", str(tmp_path / "s"), option, "x", cwd=app
    )
    assert result.status == 2
    assert f"--destdir: {option} 'x' must be absolute: the path as installed" in result.stderr


@pytest.mark.parametrize("option", ["--log", "--root"])
def test_a_path_inside_the_staging_tree_is_refused(procexport, app, tmp_path, option):
    staging = tmp_path / "stage"
    inside = f"{staging}/var/log/app"
    result = procexport("systemd", INSTALLED, "--destdir", str(staging), option, inside, cwd=app)
    assert result.status == 2
    assert f"--destdir: {option} {inside} lies inside the staging tree" in result.stderr


def test_a_package_build_writes_no_template_cache(procexport, app, tmp_path, monkeypatch):
    cache_home = tmp_path / "tmp"
    cache_home.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache_home))
    staging = tmp_path / "stage"
    assert procexport("systemd", INSTALLED, "--destdir", str(staging), cwd=app).status == 0
    assert list(cache_home.iterdir()) == []
    assert procexport("systemd", str(tmp_path / "out"), cwd=app).status == 0
    assert list(cache_home.iterdir()) != []  # what the test would see if the cache were used


PACKAGING_MESSAGES = [
    "--destdir needs a LOCATION: the directory the files go to",
    "--destdir: LOCATION 'etc' must be absolute: the path the files have once the package is "
    "installed",
    "--manifest /x/m.toml: inside --destdir /x, so it would ship in the package; keep it outside "
    "the tree",
    "--manifest /x/app.target: the export writes a file there; choose another path",
    "--manifest /x/app-web@1.service.d: the export makes a directory there; choose another path",
    "--manifest /x/app-web@1.service.d/m.toml: lies in a directory the export writes into; keep "
    "it outside LOCATION or directly in it",
    "--destdir: name the working directory as installed with --root or `root` in formation.toml; "
    "the default, the Procfile's directory, is a path on this machine",
    "--destdir: --log /x/log lies inside the staging tree; give the path as installed",
    "--destdir: --log 'x' must be absolute: the path as installed",
    "refusing to overwrite a file that differs, with no manifest to show procexport wrote it "
    "(use --force to replace it)",
]


def test_readme_lists_every_packaging_message():
    from test_errors import _stable_part

    readme = (REPO / "README.md").read_text()
    assert [m for m in PACKAGING_MESSAGES if _stable_part(m) not in readme] == []


def test_a_relative_destdir_is_taken_from_the_current_directory(procexport, app):
    result = procexport("systemd", INSTALLED, "--destdir", "debian/app", "-q", cwd=app)
    assert result.status == 0, result.stderr
    written = every_file(app / "debian/app")
    assert "etc/app/units/app.target" in written
    assert not [name for name in written if str(app).encode() in written[name]]


def test_a_link_between_destdir_and_location_is_refused_not_followed(procexport, app, tmp_path):
    staging, outside = tmp_path / "stage", tmp_path / "outside"
    (staging / "etc").mkdir(parents=True)
    outside.mkdir()
    (staging / "etc" / "app").symlink_to(outside)
    result = procexport("systemd", INSTALLED, "--destdir", str(staging), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"procexport: error: {staging}/etc/app: is a symbolic link inside --destdir; the files "
        "would be written outside the tree: remove the link\n"
    )
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("where", ["directory", "key", "lock", "journal", "other-manifest"])
def test_a_manifest_path_that_is_no_place_for_a_manifest_is_refused(
    procexport, app, tmp_path, where
):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "dir").mkdir()
    manifest = {
        "directory": tmp_path / "dir",
        "key": out / ".procexport.key",
        "lock": out / ".procexport.lock",
        "journal": out / ".procexport.app.systemd.journal",
        "other-manifest": out / ".procexport.app.supervisord.toml",
    }[where]
    before = snapshot(tmp_path)
    result = procexport("systemd", str(out), "--manifest", str(manifest), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    why = (
        "is a directory or a symbolic link; name a file"
        if where == "directory"
        else "procexport keeps a file of its own there; choose another path"
    )
    assert result.stderr == f"procexport: error: --manifest {manifest}: {why}\n"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("fmt", "location", "steps"),
    [
        (
            "runit",
            "/etc/sv/app",
            [
                "after install: ln -s /etc/sv/app/app-web-1 /etc/sv/app/app-worker-1 /etc/service/",
            ],
        ),
        (
            "launchd",
            "/Library/LaunchDaemons",
            [
                "after install: launchctl bootstrap system /Library/LaunchDaemons/app-web-1.plist",
                "after install: launchctl bootstrap system "
                "/Library/LaunchDaemons/app-worker-1.plist",
            ],
        ),
    ],
)
def test_formats_without_package_hints_name_their_first_install_steps(
    procexport, app, tmp_path, fmt, location, steps
):
    result = procexport(fmt, location, "--destdir", str(tmp_path / "s"), "-u", "root", cwd=app)
    assert result.status == 0, result.stderr
    for step in steps:
        assert f"  {step}\n" in result.stderr
