"""One export, end to end: inputs -> plan -> rendering -> destination."""

from __future__ import annotations

import functools
import gc
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, ParamSpec, TypeVar

from exporter.errors import ExportError
from exporter.formation import Options, load_formation
from exporter.formats import FileChange, Format, Install, Rendering, get_format, render
from exporter.packaging import (
    check_installed_paths,
    check_manifest_is_not_written,
    destination,
    package_steps,
    without_owners,
)
from exporter.plan import Plan, build_plan
from exporter.sync import (
    Action,
    Change,
    Destination,
    SyncPlan,
    apply_sync,
    manifest_name,
    open_destination,
    plan_sync,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def without_cycle_collection(run: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run with Python's cycle collector paused, as Mercurial's `nogc` does while it builds
    large containers: an export allocates tens of thousands of tuples, none of them in a
    cycle, and the collector would walk them again and again (5% of a 10,000-file export).
    Reference counting still frees everything; a pause already in force is left as it is."""

    @functools.wraps(run)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return run(*args, **kwargs)
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            gc.enable()

    return paused


class ExportResult(NamedTuple):
    """What an export or uninstall did, for the command line to print: the core never prints."""

    status: int  # 0 done; 1 --dry-run found changes
    output: str = ""  # for stdout: the preview (no LOCATION) or --dry-run's diff
    report: str = ""  # for stderr: the summary and next steps, or an interrupted export's note


@without_cycle_collection
def run_export(
    format_name: str,
    location: Path | None,
    options: Options,
    *,
    template_dir: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
    quiet: bool = True,
    color: bool = False,
    destdir: str | None = None,
    manifest: str | None = None,
    uninstall: bool = False,
) -> ExportResult:
    """What to print and the exit status (0 done, 1 --dry-run found changes); bad input
    raises ExportError. The options are checked already (exporter.export_options).

    With `destdir` (a package build) LOCATION is the installed path: the files name it, and
    are written under DESTDIR + LOCATION; no manifest unless `manifest` names one."""
    if uninstall:
        return run_uninstall(format_name, location, options, dry_run, force, quiet, color, manifest)
    fmt = get_format(format_name)
    plan = build_plan(
        load_formation(
            options._replace(default_user=fmt.writes_default_user),
            Path.cwd(),
            read_settings=fmt.read_settings,
        )
    )
    if location is None:
        from exporter.report import preview

        return ExportResult(0, preview(render(format_name, plan, template_dir)))
    default_name = manifest_name(plan.app, format_name)
    target = destination(location, destdir, manifest, default_name)
    if target.staging is not None:
        check_installed_paths(plan, fmt, target.staging, options)
    # a package build writes nothing outside DESTDIR, not even Jinja's bytecode cache
    keys = target.manifest.parent if target.manifest is not None else None
    rendering = render(
        format_name,
        plan,
        template_dir,
        Install.at(target.installed, keys),
        bytecode_cache=target.staging is None,
    )
    check_manifest_is_not_written(target, rendering, default_name)
    written = without_owners(rendering) if target.staging is not None else rendering
    with open_destination(target.directory, write=not dry_run) as dest:
        sync = plan_sync(
            dest,
            written,
            default_name,
            force,
            **_manifest_place(target.manifest, target.directory / default_name),
        )
        if fmt.check_removal is not None and not force:
            removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
            fmt.check_removal(target.directory, removed)
        if fmt.check_neighbours is not None:
            fmt.check_neighbours(target.directory, rendering)
        if dry_run:
            return _show_diff(sync, color, rendering)
        not_owned = apply_sync(dest, sync)
    # a package build creates nothing outside DESTDIR
    log_steps = [] if target.staging is not None else _prepare_log_dir(plan, fmt)
    if not quiet and target.staging is not None:
        from exporter.report import package_summary

        steps = package_steps(fmt, plan.app, target.installed, rendering)
        return ExportResult(0, report=package_summary(sync, steps))
    elif not quiet:
        from exporter.report import summary

        steps = next_steps_for(fmt, plan.app, location, sync, rendering, not_owned, log_steps)
        return ExportResult(0, report=summary(sync, steps))
    return ExportResult(0)


def next_steps_for(
    fmt: Format,
    app: str,
    location: Path,
    sync: SyncPlan,
    rendering: Rendering,
    not_owned: list[Change],
    log_steps: list[str],
) -> list[str]:
    """What the operator runs after a write: the chowns procexport could not do, the log
    directory's, then the format's next steps."""
    steps = [
        f"chown {shlex.quote(c.owner[0] + (':' + c.owner[1] if c.owner[1] else ''))} "
        f"{shlex.quote(str(location / c.path))}"
        for c in not_owned
        if c.owner is not None
    ]
    steps += log_steps
    return steps + fmt.next_steps(
        app, file_changes(fmt, sync, rendering), os.path.abspath(location)
    )


def file_changes(fmt: Format, sync: SyncPlan, rendering: Rendering) -> list[FileChange]:
    """Each file's change with the unit it belongs to: the rendered File's, or (a removed file)
    the one the format's naming rule gives."""
    return [
        FileChange(
            c.action.value,
            c.path,
            rendering[c.path].unit if c.path in rendering else fmt.unit_of(c.path),
        )
        for c in sync.changes
    ]


def _manifest_place(manifest: Path | None, inside: Path) -> dict[str, object]:
    """plan_sync's manifest arguments: none (--destdir), LOCATION's own, or --manifest PATH."""
    if manifest is None:
        return {"no_manifest": True}
    if manifest == inside:
        return {}
    return {"external_manifest": manifest}


def _show_diff(sync: SyncPlan, color: bool, rendering: dict | None = None) -> ExportResult:
    """--dry-run: the diff for stdout, the cleanup of an interrupted export for stderr."""
    from exporter.report import interrupted_note, unified_diff

    return ExportResult(
        1 if sync.pending or sync.interrupted else 0,
        unified_diff(sync, color, rendering),
        interrupted_note(sync),
    )


def _prepare_log_dir(plan: Plan, fmt: Format) -> list[str]:
    """-l DIR: create it for the processes when it is missing; what is left to the operator."""
    if plan.log is None or not plan.processes or not fmt.uses_log_dir:
        return []
    from exporter.logdir import prepare_log_dir

    first = plan.processes[0].type
    if fmt.runs_as_invoker and first.user_setting is None:
        import getpass  # a user manager, a LaunchAgent: the processes run as who exports

        return prepare_log_dir(plan.log, (getpass.getuser(), first.group))
    return prepare_log_dir(plan.log, (first.user, first.group))


@without_cycle_collection
def run_uninstall(
    format_name: str,
    location: Path,
    options: Options,
    dry_run: bool,
    force: bool,
    quiet: bool,
    color: bool,
    manifest_path: str | None = None,
) -> ExportResult:
    """The sync of an empty rendering: every file the manifest lists is removed, under the
    same refusals as an export; then the manifest itself."""
    fmt = get_format(format_name)
    app = (
        options.app
        or load_formation(options._replace(default_user=fmt.writes_default_user), Path.cwd()).app
    )
    default_name = manifest_name(app, format_name)
    manifest = destination(location, None, manifest_path, default_name).manifest
    assert manifest is not None  # only --destdir goes without one
    shown = str(manifest) if manifest_path is not None else default_name

    def check_manifest() -> None:
        if not manifest.is_file() or manifest.is_symlink():
            raise ExportError(
                f"nothing to uninstall: no manifest {shown} for app {app!r} and format "
                f"{format_name!r}",
                str(location),
            )
        _check_is_manifest(manifest)

    check_manifest()  # before LOCATION is locked (or made)
    with open_destination(location, write=not dry_run) as dest:
        check_manifest()  # again under the lock: another uninstall may have just run
        sync = plan_sync(
            dest, {}, default_name, force, **_manifest_place(manifest, location / default_name)
        )
        if fmt.check_removal is not None and not force:  # runit: a running instance
            fmt.check_removal(location, [c.path for c in sync.changes if c.action is Action.REMOVE])
        if dry_run:
            return _show_diff(sync, color)._replace(status=1)
        apply_sync(dest, sync._replace(manifest=None))  # the manifest goes last, below
        manifest.unlink(missing_ok=True)
        _forget_location(dest)
    if not quiet:
        from exporter.report import summary

        steps = fmt.uninstall_steps(app, file_changes(fmt, sync, {}), os.path.abspath(location))
        return ExportResult(0, report=summary(sync, steps, always=True))
    return ExportResult(0)


def _check_is_manifest(path: Path) -> None:
    """--uninstall removes the manifest too: never a file that is not one, even with --force."""
    from exporter.manifest import Unreadable, parse_manifest

    try:
        parse_manifest(path.read_bytes(), str(path))
    except Unreadable:
        raise ExportError(
            "is not a manifest procexport can read, so there is nothing it can uninstall "
            "(remove the files by hand)",
            str(path),
        ) from None
    except OSError as exc:
        raise ExportError(f"cannot read: {exc.strerror}", str(path)) from None


def _forget_location(dest: Destination) -> None:
    """After the last app's uninstall, procexport's own key and lock files go too (a waiting
    export then locks the removed lock file: uninstalls and exports are not run at once)."""
    import contextlib

    from exporter.secret_digest import KEY_FILE
    from exporter.sync import LOCK_NAME

    names = os.listdir(dest.fd)
    if any(name.startswith(".procexport.") and name.endswith(".toml") for name in names):
        return  # another app's (or format's) manifest: its key and lock stay
    for name in (KEY_FILE, LOCK_NAME):
        if name in names:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dest.fd)
