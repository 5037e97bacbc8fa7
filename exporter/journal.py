"""The write journal: all or nothing, including the renames, and recovery after a kill.

A write goes through four recorded phases, like pipx's transaction that can undo a half-done
change. The journal is `.procexport.APP.FORMAT.journal` in LOCATION, one JSON object per line:

1. intent: every step (directories to make, files to write, files to remove, the manifest),
   each with the names of its temporary (`.procexport-new-PID-N`) and of the backup that will
   hold what it replaces (`.procexport-old-PID-N`), then an `end` line. fsync'd.
2. staging: each new file is written to its temporary, in LOCATION.
3. `rename` is appended (fsync'd); then each step in order: a replaced file is first hard-linked
   to its backup, then the temporary is renamed over it; a removed file is renamed to its
   backup; a directory is made (a link in its way, with --force, is renamed to a backup first).
4. `commit` is appended (fsync'd); then the backups are deleted, directories left empty by
   removals are removed, and the journal is deleted.

A failure before `commit` rolls back: each step is undone in reverse from what is on disk
(a temporary still there was never renamed; a backup still there is renamed back), which
restores every replaced or removed file as the same inode: same contents, mode and owner. A
journal found by the next export (the writer was killed) is rolled back the same way before
that export plans anything; after `commit` it is finished instead. A dry run changes nothing
but plans against LOCATION as the rollback will leave it.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import re
import stat
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_string
from typing import NamedTuple

from exporter.errors import ExportError
from exporter.manifest import is_safe_relative
from exporter.sync import Action, Change, Destination, SyncPlan, give

_TEMPORARY = re.compile(r"\.procexport-(new|old)-[0-9]+-[0-9]+")
_JOURNAL = re.compile(r"\.procexport\..+\.journal")
_counter = itertools.count()
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC  # never an old one
_umask: int | None = None  # the process's, read by write_through_journal


class Step(NamedTuple):
    """One recorded step. A tuple, not a dict: a large export holds 20,000 of them."""

    op: str  # "mkdir", "write", "remove" or "prune"
    path: str  # relative to LOCATION
    temp: str | None = None  # write: the staged file, in LOCATION
    backup: str | None = None  # what the step replaces (or removes), kept until commit


def journal_name(manifest: str) -> str:
    return os.path.basename(manifest).removesuffix(".toml") + ".journal"


def _scratch_names() -> Callable[[str], str]:
    """`kind -> .procexport-KIND-PID-N`, a new N each call (the PID read once, not per file)."""
    prefix = f"-{os.getpid()}-"
    return lambda kind: f".procexport-{kind}{prefix}{next(_counter)}"


def write_through_journal(dest: Destination, plan: SyncPlan) -> list[Change]:
    """Apply `plan`; on any failure restore LOCATION and raise one ExportError."""
    scratch = _scratch_names()
    steps: list[Step] = []
    staged: list[tuple[str, Change]] = []  # (temporary, what it holds), in the steps' order
    for directory, replaces_link in plan.make_dirs:
        steps.append(Step("mkdir", directory, None, scratch("old") if replaces_link else None))
    for change in plan.pending:
        if change.action is Action.REMOVE:
            steps.append(Step("remove", change.path, None, scratch("old")))
            continue
        temp = scratch("new")
        backup = scratch("old") if change.action is Action.UPDATE else None
        staged.append((temp, change))
        steps.append(Step("write", change.path, temp, backup))
    if plan.manifest is not None:
        temp = scratch("new")
        staged.append(
            (temp, Change(plan.manifest_name, Action.UPDATE, None, plan.manifest, None, 0o644))
        )
        backup = scratch("old") if plan.manifest_exists else None
        steps.append(Step("write", plan.manifest_name, temp, backup))
    if not steps:
        return []
    steps += [Step("prune", directory) for directory in plan.prune_dirs]
    name = journal_name(plan.manifest_name)
    root = dest.fd
    assert root is not None
    not_owned: list[Change] = []
    where = name  # the file the current step is about, for the error message
    journal = None
    renaming = False
    try:
        journal = os.open(name, _NEW_FILE, 0o600, dir_fd=root)
        _write_all(journal, (json.dumps({"journal": 1}) + "\n").encode())
        for first in range(0, len(steps), 1000):  # in parts: not three copies of it in memory
            lines = "".join(_step_line(step) for step in steps[first : first + 1000])
            _write_all(journal, lines.encode())
        _write_all(journal, (json.dumps({"end": len(steps)}) + "\n").encode())
        global _umask
        _umask = os.umask(0o077)  # read the umask: a file it leaves as asked needs no fchmod
        os.umask(_umask)
        for temp, change in staged:
            where = change.path
            if _stage(root, temp, change) is False:
                not_owned.append(change)
        where = name
        _write_all(journal, b'{"rename": true}\n')
        os.fsync(journal)
        os.fsync(root)
        renaming = True
        for step in steps:
            where = step.path
            _apply(dest, step)
        where = name
        _write_all(journal, b'{"commit": true}\n')
        os.fsync(journal)
    except KeyboardInterrupt:  # Ctrl-C: undo now rather than leave it to the next export
        _undo(dest, steps, renamed=renaming, journal=None if journal is None else name)
        raise
    except OSError as exc:
        undone = _undo(dest, steps, renamed=renaming, journal=None if journal is None else name)
        if journal is not None:
            os.close(journal)
        raise _write_error(exc, dest.path(where), undone) from None
    os.close(journal)
    _finish(dest, steps, name, applied=True)
    return not_owned


def _step_line(step: Step) -> str:
    """The step as one JSON object and a newline, the keys of its kind only (what
    `json.dumps` of the dict gives), without the encoder's general machinery: 20,000 times
    for a large export. The scratch names are our own: nothing in them to escape."""
    op, path, temp, backup = step
    quoted = _json_string(path)
    if op == "prune":
        return f'{{"op": "prune", "path": {quoted}}}\n'
    held = "null" if backup is None else f'"{backup}"'
    if op == "write":
        return f'{{"op": "write", "path": {quoted}, "temp": "{temp}", "backup": {held}}}\n'
    return f'{{"op": "{op}", "path": {quoted}, "backup": {held}}}\n'


def _write_error(exc: OSError, path: str, undone: bool) -> ExportError:
    hints = {
        errno.ENOSPC: "free some space or inodes on that file system and export again",
        errno.EDQUOT: "free some of the quota and export again",
        errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter app or "
        "process type name",
        errno.EPERM: "check the permissions and attributes (lsattr) of this file and its directory",
        errno.EACCES: "check the permissions of this file and its directory",
        errno.EROFS: "the file system is read-only",
    }
    hint = hints.get(exc.errno or 0, "fix the cause and export again")
    if undone:
        return ExportError(f"cannot write: {exc.strerror}; nothing was changed: {hint}", path)
    return ExportError(
        f"cannot write: {exc.strerror}; the change could not be undone either, the next "
        f"export will retry: {hint}",
        path,
    )


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written == len(data):  # nearly always: one write, no view of the rest
        return
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


def _stage(root: int, temp: str, change: Change) -> bool | None:
    """Write the temporary; False when its owner could not be set. Created 0600 and then
    given its mode, unless the umask (read by this write) leaves the mode it is created with
    as it is."""
    mode = change.new_mode or 0o644
    exact = _umask is not None and mode & ~_umask == mode and not mode & ~0o777
    handle = os.open(temp, _NEW_FILE, mode if exact else 0o600, dir_fd=root)
    try:
        if not exact:
            os.fchmod(handle, mode)
        _write_all(handle, change.new_text or b"")
        if change.owner is not None:
            return give(handle, change.owner)
        return None
    finally:
        os.close(handle)


def _split(relative: str) -> tuple[list[str], str]:
    parts = relative.split("/")
    return parts[:-1], parts[-1]


def _apply(dest: Destination, step: Step) -> None:
    op, path, temp, backup = step
    if op == "prune":
        return
    root = dest.fd
    directory, _, name = path.rpartition("/")
    parent = dest.open_dir(directory.split("/")) if directory else root
    try:
        if op == "mkdir":
            if backup:
                os.rename(name, backup, src_dir_fd=parent, dst_dir_fd=root)
            os.mkdir(name, 0o755, dir_fd=parent)
        elif op == "write":
            if backup:
                os.link(name, backup, src_dir_fd=parent, dst_dir_fd=root, follow_symlinks=False)
            os.replace(temp, name, src_dir_fd=root, dst_dir_fd=parent)
        elif op == "remove":
            os.rename(name, backup, src_dir_fd=parent, dst_dir_fd=root)
    finally:
        dest.close(parent)


def _exists(fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _undo(dest: Destination, steps: list[Step], renamed: bool, journal: str | None) -> bool:
    """Roll back from what is on disk; True when everything was undone and the journal gone."""
    root = dest.fd
    try:
        if renamed:
            for step in reversed(steps):
                _undo_step(dest, step)
        for step in steps:
            for scratch in (step.temp, step.backup):
                if scratch and _exists(root, scratch):
                    os.unlink(scratch, dir_fd=root)
        if journal is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(journal, dir_fd=root)
        os.fsync(root)
    except OSError:
        return False
    return True


def _undo_step(dest: Destination, step: Step) -> None:
    root = dest.fd
    parents, name = _split(step.path)
    if step.op == "prune":
        return
    try:
        parent = dest.open_dir(parents)
    except (FileNotFoundError, NotADirectoryError):
        return  # its directory was never made: nothing happened here
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return  # a link appeared: never follow it
        raise
    try:
        temp, backup = step.temp, step.backup
        if step.op == "write":
            if _exists(root, temp):  # never renamed into place
                if backup and _exists(root, backup):
                    os.unlink(backup, dir_fd=root)
            elif backup:
                if _exists(root, backup):
                    os.replace(backup, name, src_dir_fd=root, dst_dir_fd=parent)
            else:
                _unlink_file(parent, name)
        elif step.op == "remove":
            if _exists(root, backup):
                os.replace(backup, name, src_dir_fd=root, dst_dir_fd=parent)
        elif step.op == "mkdir":
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    os.rmdir(name, dir_fd=parent)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.ENOTEMPTY:
                    raise
                # Someone else's files appeared in it since (runsv's supervise/ in a new
                # service directory): they stay, and so does the directory holding them.
                return
            if backup and _exists(root, backup):
                os.rename(backup, name, src_dir_fd=root, dst_dir_fd=parent)
    finally:
        dest.close(parent)


def _unlink_file(parent: int, name: str) -> None:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=parent)


def _finish(dest: Destination, steps: list[Step], journal: str, applied: bool = False) -> None:
    """After commit: delete backups, remove directories left empty, delete the journal.
    A failure here leaves the journal, and the next export finishes the job. `applied`: this
    process just applied every step, so no temporary is left and every backup exists (no
    stat of each)."""
    root = dest.fd
    try:
        for step in steps:
            if applied:
                if step.backup:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(step.backup, dir_fd=root)
                continue
            for scratch in (step.temp, step.backup):
                if scratch and _exists(root, scratch):
                    os.unlink(scratch, dir_fd=root)
        for step in steps:
            if step.op == "prune":
                parents, name = _split(step.path)
                try:
                    parent = dest.open_dir(parents)
                except OSError:
                    continue
                try:
                    os.rmdir(name, dir_fd=parent)
                except OSError:
                    pass  # not empty (someone else's file), or gone
                finally:
                    dest.close(parent)
        os.unlink(journal, dir_fd=root)
    except OSError:
        pass


def _journals(dest: Destination) -> list[tuple[str, list[Step], set[str]]]:
    """Every journal in LOCATION: (name, steps, phases reached: 'end', 'rename', 'commit')."""
    found = []
    assert dest.fd is not None
    for entry in sorted(os.listdir(dest.fd)):
        if not _JOURNAL.fullmatch(entry):
            continue
        try:
            handle = os.open(
                entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dest.fd
            )
            with open(handle, "rb") as stream:
                if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                    continue
                data = stream.read()
        except OSError:
            continue
        steps, phases = _parse(data, dest.path(entry))
        found.append((entry, steps, phases))
    return found


def _parse(data: bytes, label: str) -> tuple[list[Step], set[str]]:
    steps: list[Step] = []
    phases: set[str] = set()
    lines = data.split(b"\n")
    complete = lines[:-1]  # a last line without its newline was being written when killed
    try:
        if complete and json.loads(complete[0]) != {"journal": 1}:
            raise ValueError
        for line in complete[1:]:
            record = json.loads(line)
            if "end" in record:
                if record["end"] != len(steps):
                    raise ValueError
                phases.add("end")
            elif "rename" in record or "commit" in record:
                phases.add("rename" if "rename" in record else "commit")
            elif "end" not in phases:
                steps.append(_checked(record))
    except (ValueError, TypeError, KeyError, RecursionError):
        raise ExportError(
            "is a write journal procexport cannot read: check LOCATION by hand, then remove it",
            label,
        ) from None
    return steps, phases


def _checked(record: dict) -> Step:
    if record["op"] not in ("mkdir", "write", "remove", "prune"):
        raise ValueError
    if not isinstance(record["path"], str) or not is_safe_relative(record["path"]):
        raise ValueError
    for key in ("temp", "backup"):
        value = record.get(key)
        if value is not None and (not isinstance(value, str) or not _TEMPORARY.fullmatch(value)):
            raise ValueError
    if record["op"] == "write" and not record.get("temp"):
        raise ValueError
    if record["op"] == "remove" and not record.get("backup"):
        raise ValueError
    return Step(record["op"], record["path"], record.get("temp"), record.get("backup"))


def recover(dest: Destination) -> None:
    """Finish (after commit) or roll back (before) every export that was killed here."""
    for name, steps, phases in _journals(dest):
        if "commit" in phases:
            _finish(dest, steps, name)
            ok = not _exists(dest.fd, name)
        else:
            ok = _undo(dest, steps, renamed="rename" in phases, journal=name)
        if not ok:
            raise ExportError(
                "an interrupted export could not be cleaned up: check the permissions of "
                "LOCATION and export again",
                dest.path(name),
            )


def rollback_view(
    dest: Destination,
) -> tuple[dict[str, str | None], set[str], tuple[str, ...]]:
    """For a dry run: where each path's content will be once interrupted exports are cleaned
    up (a backup's name, or None: absent), the directories that will be links again, and the
    journals that will be cleaned up."""
    overlay: dict[str, str | None] = {}
    links: set[str] = set()
    names = []
    root = dest.fd
    for name, steps, phases in _journals(dest):
        names.append(name)
        if "rename" not in phases or "commit" in phases:
            continue
        for step in steps:
            temp, backup = step.temp, step.backup
            if step.op == "write" and not _exists(root, temp):
                if backup is None:
                    overlay[step.path] = None
                elif _exists(root, backup):
                    overlay[step.path] = backup
            elif step.op == "remove" and _exists(root, backup):
                overlay[step.path] = backup
            elif step.op == "mkdir" and backup and _exists(root, backup):
                links.add(step.path)
    return overlay, links, tuple(names)
