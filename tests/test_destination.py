"""The destination under faults: symbolic links inside LOCATION, concurrent exports, failures
at every step (renames included), kills, mode edits, manifest versions."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import REPO, export, read_tree, snapshot, write_app

import exporter.journal
import exporter.sync
from exporter.cli import main

PROCFILE = "web: serve\nworker: work\nclock: tick\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_app(tmp_path / "shop", PROCFILE)


def scratch_files(directory: Path) -> list[str]:
    """Temporaries, backups and journals: none may stay after an export ends."""
    return [
        str(p)
        for p in directory.rglob("*")
        if p.name.startswith((".procexport-new-", ".procexport-old-"))
        or p.name.endswith(".journal")
    ]


# Containment


def test_a_symlinked_drop_in_directory_is_refused_and_its_target_untouched(
    procexport, shop, tmp_path
):
    out, outside = tmp_path / "out", tmp_path / "outside"
    export(procexport, shop, "systemd", out, "-m", "web=2")
    outside.mkdir()
    (outside / "instance.conf").write_text("precious\n")
    shutil.rmtree(out / "shop-web@2.service.d")
    (out / "shop-web@2.service.d").symlink_to(outside)
    before, before_outside = snapshot(out), snapshot(outside)
    (shop / ".env").write_text("A=1\n")  # every drop-in would change
    for args in (["-m", "web=2"], ["-m", "web=1"], ["-m", "web=3"]):
        result = export(procexport, shop, "systemd", out, *args)
        assert result.status == 2
        assert f"{out}/shop-web@2.service.d: is a symbolic link inside LOCATION" in result.stderr
        assert snapshot(out) == before
    assert export(procexport, shop, "systemd", out, "-m", "web=3", "--force").status == 0
    assert snapshot(outside) == before_outside
    assert not (out / "shop-web@2.service.d").is_symlink()
    fresh = tmp_path / "fresh"
    export(procexport, shop, "systemd", fresh, "-m", "web=3")
    assert read_tree(out) == read_tree(fresh)


def test_a_symlinked_file_is_replaced_only_with_force_and_its_target_untouched(
    procexport, shop, tmp_path
):
    out, victim = tmp_path / "out", tmp_path / "victim"
    export(procexport, shop, "supervisord", out)
    victim.write_text("keep me\n")
    (out / "shop.conf").unlink()
    (out / "shop.conf").symlink_to(victim)
    before = snapshot(out)
    result = export(procexport, shop, "supervisord", out)
    assert result.status == 2
    assert f"{out}/shop.conf: is a symbolic link inside LOCATION" in result.stderr
    assert snapshot(out) == before
    dry = procexport("supervisord", str(out), "--dry-run", "--force", cwd=shop)
    assert "old mode 120777\n" in dry.stdout
    assert export(procexport, shop, "supervisord", out, "--force").status == 0
    assert victim.read_text() == "keep me\n"
    assert not (out / "shop.conf").is_symlink()


@pytest.mark.parametrize("entry", ["evil/db", "deep/evil/db", "evil/deeper/db"])
def test_a_manifest_entry_through_a_symlinked_directory_never_touches_the_target(
    procexport, shop, tmp_path, entry
):
    out, outside = tmp_path / "out", tmp_path / "outside"
    export(procexport, shop, "systemd", out)
    (outside / "deeper").mkdir(parents=True)
    for victim in (outside / "db", outside / "deeper" / "db"):
        victim.write_text("data\n")
    link = out / entry.rsplit("/", 1)[0].removesuffix("/deeper")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    manifest = out / ".procexport.shop.systemd.toml"
    import hashlib

    digest = hashlib.sha256(b"data\n").hexdigest()
    manifest.write_text(manifest.read_text() + f'"{entry}" = "0644 {digest}"\n')
    before, before_outside = snapshot(out), snapshot(outside)
    result = export(procexport, shop, "systemd", out)
    assert result.status == 2
    assert "is a symbolic link inside LOCATION" in result.stderr
    assert snapshot(out) == before
    assert export(procexport, shop, "systemd", out, "--force").status == 0
    assert snapshot(outside) == before_outside


@pytest.mark.parametrize(
    "entry",
    ["../victim", "/tmp/victim", "a/../../victim", "nul\\u0000byte", "x" * 300, "a//b", "./a"],
)
def test_a_forged_manifest_entry_is_refused_without_a_traceback(procexport, shop, tmp_path, entry):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    manifest = out / ".procexport.shop.systemd.toml"
    manifest.write_text(manifest.read_text() + f'"{entry}" = "0644 x"\n')
    before = snapshot(out)
    result = export(procexport, shop, "systemd", out, "-m", "all=0")
    assert result.status == 2
    assert result.stderr.endswith(
        "is not a manifest procexport can read (use --force to start a new one)\n"
    )
    assert snapshot(out) == before
    assert export(procexport, shop, "systemd", out, "-m", "all=0", "--force").status == 0
    assert victim.read_text() == "keep me"


def test_a_name_too_long_for_the_file_system_is_one_line_and_changes_nothing(
    procexport, shop, tmp_path
):
    out = tmp_path / "out"
    export(procexport, shop, "upstart", out)
    before = snapshot(out)
    (shop / "Procfile").write_text(PROCFILE + "t" + "x" * 259 + ": serve\n")
    result = export(procexport, shop, "upstart", out)
    assert result.status == 2
    assert result.stderr.count("\n") == 1
    assert "file name too long for the file system: use a shorter name" in result.stderr
    assert snapshot(out) == before


# One writer per LOCATION


def test_a_second_export_waits_a_bounded_time_for_the_lock_then_fails_in_one_line(
    procexport, shop, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    before = snapshot(out)
    monkeypatch.setenv("PROCEXPORT_LOCK_TIMEOUT", "0.2")
    held = os.open(out, os.O_RDONLY | os.O_DIRECTORY)  # what an export locks: LOCATION itself
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = export(procexport, shop, "systemd", out, "-m", "all=2")
        dry = procexport("systemd", str(out), "--dry-run", cwd=shop)
    finally:
        os.close(held)
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: {out}: another procexport is writing into this directory (waited "
        "0.2 seconds): try again when it has finished\n"
    )
    assert dry.status == 2
    assert snapshot(out) == before


@pytest.mark.parametrize("option", ["--manifest", "--destdir"])
def test_an_export_keeping_its_manifest_elsewhere_waits_for_the_same_lock(
    procexport, shop, tmp_path, monkeypatch, option
):
    """One lock for every kind of export into a LOCATION: a --manifest PATH or --destdir export
    must not run (and recover a live journal) beside a default one."""
    out = tmp_path / "out"
    out.mkdir()
    directory = out
    args = ["--manifest", str(tmp_path / "m.toml")]
    if option == "--destdir":
        directory = out / "etc" / "app"
        directory.mkdir(parents=True)
        args = ["--destdir", str(out), "-d", "/srv/app"]
    monkeypatch.setenv("PROCEXPORT_LOCK_TIMEOUT", "0.2")
    held = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        location = "/etc/app" if option == "--destdir" else str(out)
        result = procexport("systemd", location, *args, cwd=shop)
    finally:
        os.close(held)
    assert result.status == 2
    assert "another procexport is writing into this directory" in result.stderr
    assert not any(directory.iterdir())


def test_two_concurrent_exports_of_100_types_never_interleave(tmp_path):
    app = write_app(tmp_path / "big", "".join(f"t{i:03}: serve\n" for i in range(100)))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "exporter", "systemd", str(out), "-q", "-d", str(app)]
    env = os.environ | {"PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen([*command, "-m", spec], cwd=app, env=env, stderr=subprocess.PIPE)
        for spec in ("all=3", "all=2")
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
        run.stderr.close()
    result = read_tree(out, manifests=True)
    fresh = {}
    for spec in ("all=3", "all=2"):
        target = tmp_path / f"fresh-{spec}"
        subprocess.run(
            [*command[:4], str(target), *command[5:], "-m", spec], cwd=app, env=env, check=True
        )
        fresh[spec] = read_tree(target, manifests=True)
    assert result in fresh.values()
    assert not scratch_files(out)


# All or nothing, renames included


def failing(function, at: int):
    """`function`, failing with ENOSPC on its `at`-th call."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise OSError(28, "No space left on device")
        return function(*args, **kwargs)

    return wrapper


def os_with(**overrides):
    """The os module as exporter.journal sees it, with some functions replaced."""
    proxy = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    for name, function in overrides.items():
        setattr(proxy, name, function)
    return proxy


def counting(function, calls: list):
    def wrapper(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("call", ["replace", "link", "rename", "mkdir", "fsync", "write"])
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_failure_at_any_step_restores_location_exactly(
    procexport, shop, tmp_path, monkeypatch, call, which
):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out, "-m", "all=2")
    # a file the export replaces, with a mode of its own (recorded): it must come back as it was
    (out / "shop-web@.service").chmod(0o640)
    manifest = out / ".procexport.shop.systemd.toml"
    manifest.write_text(
        manifest.read_text().replace('"shop-web@.service" = "0644', '"shop-web@.service" = "0640')
    )
    (shop / ".env").write_text("A=1\n")  # every template changes
    args = ["-m", "web=3,worker=1,clock=0"]  # creates, replaces, removes, a new directory
    shutil.copytree(out, tmp_path / "count", symlinks=True)
    calls: list = []
    with monkeypatch.context() as patch:
        patch.setattr(exporter.journal, "os", os_with(**{call: counting(getattr(os, call), calls)}))
        assert export(procexport, shop, "systemd", tmp_path / "count", *args).status == 0
    at = {"first": 1, "middle": (len(calls) + 1) // 2, "last": len(calls)}[which]
    before = snapshot(out)
    monkeypatch.setattr(exporter.journal, "os", os_with(**{call: failing(getattr(os, call), at)}))
    result = export(procexport, shop, "systemd", out, *args)
    assert result.status == 2
    assert "No space left on device; nothing was changed" in result.stderr
    assert ".procexport-" not in result.stderr.replace(".procexport.shop.systemd.", "")
    assert snapshot(out) == before
    assert not scratch_files(out)


def test_an_immutable_drop_in_directory_restores_location_exactly(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out, "-m", "all=2")
    (shop / ".env").write_text("A=1\n")
    locked = out / "shop-worker@1.service.d"
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        before = snapshot(out)
        result = export(procexport, shop, "systemd", out, "-m", "all=1", "-p", "6000")
        assert result.status == 2
        assert f"{locked}/instance.conf: cannot write: Operation not permitted; nothing was " in (
            result.stderr
        )
        assert snapshot(out) == before
        assert not scratch_files(out)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A tmpfs of a given size and inode count, mounted for the test (root only)."""
    mounted = []

    def mount(size: str, inodes: int) -> Path:
        where = tmp_path / f"tmpfs{len(mounted)}"
        where.mkdir()
        options = f"size={size},nr_inodes={inodes}"
        if (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
            ).returncode
            != 0
        ):
            pytest.skip("cannot mount a tmpfs here (not root?)")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.parametrize(("size", "inodes"), [("64k", 1000), ("8m", 26)])
def test_a_full_file_system_restores_location_exactly(procexport, shop, tiny_tmpfs, size, inodes):
    out = tiny_tmpfs(size, inodes) / "out"
    assert export(procexport, shop, "systemd", out, "-m", "all=1").status == 0
    before = snapshot(out)
    (shop / ".env").write_text(f"BIG={'x' * 20000}\n")  # every file grows
    result = export(procexport, shop, "systemd", out, "-m", "all=3")
    assert result.status == 2
    assert "No space left on device; nothing was changed: free some space or inodes" in (
        result.stderr
    )
    assert snapshot(out) == before
    assert not scratch_files(out)


# Crash recovery


class Killed(BaseException):
    """Stands for SIGKILL: nothing below catches it, no rollback runs."""


def killing_os(at: int, counter: list):
    calls = (
        "open",
        "write",
        "fchmod",
        "replace",
        "rename",
        "link",
        "unlink",
        "mkdir",
        "rmdir",
        "fsync",
    )

    def counted(function):
        def wrapper(*args, **kwargs):
            counter.append(function.__name__)
            if len(counter) == at:
                raise Killed
            return function(*args, **kwargs)

        return wrapper

    return os_with(**{name: counted(getattr(os, name)) for name in calls})


def run_killed(monkeypatch, app: Path, args: list[str], at: int) -> int:
    """Run an export in-process, killed at its `at`-th file system call; the number of calls."""
    counter: list = []
    monkeypatch.chdir(app)
    with monkeypatch.context() as patch:
        patch.setattr(exporter.journal, "os", killing_os(at, counter))
        try:
            main(args)
        except Killed:
            pass
        except SystemExit as exc:
            assert exc.code in (0, None)
    return len(counter)


def test_a_kill_at_any_step_is_rolled_back_or_finished_by_the_next_export(
    procexport, shop, tmp_path, monkeypatch
):
    reference = tmp_path / "reference"
    export(procexport, shop, "systemd", reference, "-m", "all=2")
    (reference / "shop-web@1.service.d" / "instance.conf").chmod(0o640)  # recorded as such:
    manifest = reference / ".procexport.shop.systemd.toml"
    manifest.write_text(
        manifest.read_text().replace(
            '"shop-web@1.service.d/instance.conf" = "0644',
            '"shop-web@1.service.d/instance.conf" = "0640',
        )
    )
    (shop / ".env2").write_text("A=1\n")
    total = kill_at_every_step(
        procexport,
        monkeypatch,
        shop,
        reference,
        killed=["-m", "web=3,worker=1,clock=0", "-e", ".env2"],
        then=["-m", "web=1,clock=3"],
    )
    assert total > 50


def test_a_kill_while_force_replaces_a_symlinked_directory_never_touches_its_target(
    procexport, shop, tmp_path, monkeypatch
):
    reference, outside = tmp_path / "reference", tmp_path / "outside"
    export(procexport, shop, "systemd", reference, "-m", "web=2")
    outside.mkdir()
    (outside / "instance.conf").write_text("precious\n")
    shutil.rmtree(reference / "shop-web@2.service.d")
    (reference / "shop-web@2.service.d").symlink_to(outside)
    before_outside = snapshot(outside)
    total = kill_at_every_step(
        procexport,
        monkeypatch,
        shop,
        reference,
        killed=["-m", "web=3", "--force"],
        then=["-m", "web=2", "--force"],
        dry_run=["-m", "web=2"],  # without --force: refused while the link is (back) there
    )
    assert total > 20
    assert snapshot(outside) == before_outside


def kill_at_every_step(
    procexport,
    monkeypatch,
    app: Path,
    reference: Path,
    killed: list[str],
    then: list[str],
    dry_run: list[str] | None = None,
) -> int:
    """For every file system call of a systemd export `killed` from a copy of `reference`:
    kill it there; a dry run must tell what LOCATION will be once cleaned up; the export
    `then` must end exactly as it does from `reference` (a fresh export). Returns the number of
    calls."""
    work = reference.parent / "kills"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    fresh, out, truth = work / "fresh", work / "out", work / "truth"
    shutil.copytree(reference, fresh, symlinks=True)
    assert export(procexport, app, "systemd", fresh, *then).status == 0
    at = 1
    while True:
        for directory in (out, truth):
            shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(reference, out, symlinks=True)
        calls = run_killed(monkeypatch, app, ["systemd", str(out), "-q", *killed], at)
        if calls < at:
            return calls
        journal = (out / ".procexport.shop.systemd.journal").exists()
        dry = procexport("systemd", str(out), "--dry-run", *(dry_run or then), cwd=app)
        shutil.copytree(out, truth, symlinks=True)
        with exporter.sync.open_destination(truth, write=True):
            pass  # recovery only
        after = procexport("systemd", str(truth), "--dry-run", *(dry_run or then), cwd=app)
        assert dry.stdout == after.stdout, at
        if after.status == 2:
            assert dry.stderr == after.stderr.replace(str(truth), str(out)), at
        else:
            assert dry.status == (1 if journal else after.status), at
            note = "an interrupted export (.procexport.shop.systemd.journal) will be cleaned up"
            assert (note in dry.stderr) == journal, at
        result = export(procexport, app, "systemd", out, *then)
        assert result.status == 0, (at, result.stderr)
        assert snapshot(out) == snapshot(fresh), at
        assert not scratch_files(out), at
        at += 1


KILLER = """
import os, signal, sys, types
import exporter.journal
from exporter.cli import main

at, calls = int(sys.argv[1]), [0]
def counted(function):
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapper
names = ("open", "write", "fchmod", "replace", "rename", "link", "unlink", "mkdir", "fsync")
proxy = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
for name in names:
    setattr(proxy, name, counted(getattr(os, name)))
exporter.journal.os = proxy
try:
    main(sys.argv[2:])
finally:
    sys.stderr.write(f"calls={calls[0]}\\n")
"""


def test_sigkill_during_a_100x50_export_is_recovered_by_exports_of_other_formations(tmp_path):
    app = write_app(tmp_path / "big", "".join(f"t{i:03}: serve\n" for i in range(100)))
    env = os.environ | {"PYTHONPATH": str(REPO)}

    def procexport(*args: str, at: int = 0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", KILLER, str(at), *args],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    counting = procexport("systemd", str(tmp_path / "count"), "-q", "-m", "all=50")
    total = int(counting.stderr.rsplit("calls=", 1)[1])
    assert total > 15000  # 5,200 files: staged, renamed, journaled
    fresh = tmp_path / "fresh"
    procexport("systemd", str(fresh), "-q", "-m", "all=20,t000=60")
    out = tmp_path / "out"
    for fraction in (0.3, 0.66, 0.9, 0.9999):  # every step: the in-process test above
        if out.exists():
            shutil.rmtree(out)
        killed = procexport("systemd", str(out), "-q", "-m", "all=50", at=int(total * fraction))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        dry = procexport("systemd", str(out), "--dry-run", "-m", "all=20,t000=60")
        assert dry.returncode == 1, dry.stderr
        again = procexport("systemd", str(out), "-q", "-m", "all=20,t000=60")
        assert again.returncode == 0, again.stderr
        assert snapshot(out) == snapshot(fresh), fraction


# Modes


@pytest.mark.parametrize("fmt", ["systemd", "supervisord", "upstart"])
def test_a_mode_changed_by_hand_is_an_edit_even_when_nothing_else_changes(
    procexport, shop, tmp_path, fmt
):
    out = tmp_path / "out"
    export(procexport, shop, fmt, out)
    unit = out / {"systemd": "shop.target", "upstart": "shop.conf"}.get(fmt, "shop.conf")
    unit.chmod(0o600)  # say it holds inline secrets
    before = snapshot(out)
    result = export(procexport, shop, fmt, out)
    assert result.status == 2
    assert f"{unit}: refusing to overwrite a file that was edited" in result.stderr
    assert snapshot(out) == before
    assert export(procexport, shop, fmt, out, "--force").status == 0
    assert unit.stat().st_mode & 0o777 == 0o644


def test_a_foreign_file_with_equal_content_but_another_mode_is_not_taken_over(
    procexport, shop, tmp_path
):
    reference, out = tmp_path / "reference", tmp_path / "out"
    export(procexport, shop, "supervisord", reference)
    out.mkdir()
    (out / "shop.conf").write_bytes((reference / "shop.conf").read_bytes())
    (out / "shop.conf").chmod(0o600)
    result = export(procexport, shop, "supervisord", out)
    assert result.status == 2
    assert "refusing to overwrite a file procexport did not write" in result.stderr
    assert (out / "shop.conf").stat().st_mode & 0o777 == 0o600


# The manifest's format version


def test_a_manifest_without_a_version_is_upgraded_in_place(procexport, shop, tmp_path):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    manifest = out / ".procexport.shop.systemd.toml"
    old = manifest.read_text().replace("version = 2\n", "")
    manifest.write_text(old)
    assert "version" not in old
    assert export(procexport, shop, "systemd", out, "-m", "web=2").status == 0
    assert "\nversion = 2\n" in manifest.read_text()
    assert export(procexport, shop, "systemd", out, "-m", "web=1").status == 0


def test_a_manifest_from_a_newer_procexport_is_refused_without_suggesting_force(
    procexport, shop, tmp_path
):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    manifest = out / ".procexport.shop.systemd.toml"
    manifest.write_text(manifest.read_text().replace("version = 2", "version = 3"))
    before = snapshot(out)
    for force in ((), ("--force",)):
        result = export(procexport, shop, "systemd", out, *force)
        assert result.status == 2
        assert result.stderr == (
            f"procexport: error: {manifest}: this manifest has format version 3, newer than "
            "this procexport understands (2): export with the procexport that wrote it, or "
            "upgrade\n"
        )
        assert snapshot(out) == before


def test_a_rename_that_fails_names_the_file_the_user_knows_and_what_to_do(
    procexport, shop, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    export(procexport, shop, "upstart", out)
    before = snapshot(out)
    real_replace = os.replace

    def too_long(source, target, **kwargs):
        if target == "shop-web-2.conf":
            raise OSError(36, "File name too long")
        return real_replace(source, target, **kwargs)

    monkeypatch.setattr(exporter.journal, "os", os_with(replace=too_long))
    result = export(procexport, shop, "upstart", out, "-m", "all=2")
    assert result.stderr == (
        f"procexport: error: {out}/shop-web-2.conf: cannot write: File name too long; nothing "
        "was changed: the name is too long for the file system: use a shorter app or process "
        "type name\n"
    )
    assert snapshot(out) == before
    assert not scratch_files(out)


def test_ctrl_c_during_the_write_undoes_it_at_once(procexport, shop, tmp_path, monkeypatch):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    before = snapshot(out)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return os.replace(*args, **kwargs)

    monkeypatch.setattr(exporter.journal, "os", os_with(replace=interrupted))
    result = export(procexport, shop, "systemd", out, "-m", "all=2")
    assert result.status == 130
    assert snapshot(out) == before
    assert not scratch_files(out)


@pytest.mark.parametrize(
    "step",
    [
        '{"op": "write", "path": "../victim", "temp": ".procexport-new-1-1", "backup": null}',
        '{"op": "write", "path": "x", "temp": "../victim", "backup": null}',
        '{"op": "remove", "path": "x", "backup": "/tmp/victim"}',
        '{"op": "write", "path": "nul\\u0000", "temp": ".procexport-new-1-1", "backup": null}',
        "[1, 2",
    ],
)
def test_a_forged_journal_is_refused_and_never_followed_outside(procexport, shop, tmp_path, step):
    out = tmp_path / "out"
    export(procexport, shop, "systemd", out)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    journal = out / ".procexport.evil.systemd.journal"
    journal.write_text(f'{{"journal": 1}}\n{step}\n{{"end": 1}}\n{{"rename": true}}\n')
    before = snapshot(out)
    result = export(procexport, shop, "systemd", out, "-m", "all=2")
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: {journal}: is a write journal procexport cannot read: check "
        "LOCATION by hand, then remove it\n"
    )
    assert snapshot(out) == before
    assert victim.read_text() == "keep me"


def test_a_journal_step_behind_a_symlink_is_never_undone_through_it(procexport, shop, tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    export(procexport, shop, "systemd", out)
    outside.mkdir()
    (outside / "db").write_text("data\n")
    (out / "evil").symlink_to(outside)
    (out / ".procexport.evil.systemd.journal").write_text(
        '{"journal": 1}\n{"op": "write", "path": "evil/db", "temp": ".procexport-new-1-1", '
        '"backup": null}\n{"end": 1}\n{"rename": true}\n'
    )
    assert export(procexport, shop, "systemd", out).status == 0
    assert (outside / "db").read_text() == "data\n"
    assert not (out / ".procexport.evil.systemd.journal").exists()


def test_a_killed_runit_export_whose_new_services_runsv_took_up_is_recovered(
    procexport, shop, tmp_path, monkeypatch
):
    """runsvdir may start a runsv on a new service directory before the export that made it
    is killed; runsv then puts its supervise/ there. The rollback keeps that directory (its
    files are runsv's) instead of failing every later export."""
    out = tmp_path / "out"
    assert export(procexport, shop, "runit", out, "-m", "web=1", "-u", "root").status == 0
    args = ["runit", str(tmp_path / "killed"), "-q", "-u", "root", "-m", "web=3"]
    shutil.copytree(out, tmp_path / "killed", symlinks=True)
    calls = run_killed(monkeypatch, shop, args, 10**9)  # not killed: how many calls it makes
    new = [tmp_path / "killed" / f"shop-web-{n}" for n in (2, 3)]
    for at in range(1, calls):
        shutil.rmtree(tmp_path / "killed")
        shutil.copytree(out, tmp_path / "killed", symlinks=True)
        run_killed(monkeypatch, shop, args, at)
        journal = list((tmp_path / "killed").glob("*.journal"))
        if journal and any(path.is_dir() for path in new):
            break
    else:
        raise AssertionError("no kill point left a new service directory behind")
    for path in new:
        if path.is_dir():  # what runsv makes as soon as it starts on a directory
            (path / "supervise").mkdir(exist_ok=True)
            (path / "supervise" / "pid").write_text("")
    result = export(procexport, shop, "runit", tmp_path / "killed", "-m", "web=1", "-u", "root")
    assert result.status == 0, result.stderr
    assert not scratch_files(tmp_path / "killed")
    left = read_tree(tmp_path / "killed")
    assert {path: text for path, text in left.items() if "/supervise/" not in path} == read_tree(
        out
    )


def test_a_lock_on_a_directory_removed_meanwhile_is_taken_again_on_the_new_one(
    tmp_path, monkeypatch
):
    """A failed first export removes the LOCATION it made while another export waits on it;
    a third makes LOCATION anew. The waiting export must lock the new directory, not write
    into it while holding the lock of the removed one."""
    location = tmp_path / "loc"
    location.mkdir()
    real, calls = exporter.sync._lock, []

    def racing(dest, write):
        if not calls:
            os.rmdir(location)
            location.mkdir()
        calls.append(write)
        return real(dest, write)

    monkeypatch.setattr(exporter.sync, "_lock", racing)
    with exporter.sync.open_destination(location, write=True) as dest:
        assert os.fstat(dest.fd).st_ino == os.stat(location).st_ino
    assert calls == [True, True]


def test_a_failed_first_export_with_secrets_leaves_no_key_behind(
    procexport, shop, tmp_path, monkeypatch
):
    """The key of the keyed digests is written just before the journal; a write that is rolled
    back takes it away too, so LOCATION is exactly as it was."""
    (shop / ".env").write_text("SECRET=hunter2\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "README").write_text("someone else's\n")
    before = snapshot(out)
    monkeypatch.delenv("PROCEXPORT_SECRET_KEY", raising=False)
    monkeypatch.setattr(exporter.journal, "os", os_with(replace=failing(os.replace, 1)))
    result = export(procexport, shop, "systemd", out, "--env-mode", "file")
    assert result.status == 2
    assert "nothing was changed" in result.stderr
    assert snapshot(out) == before
