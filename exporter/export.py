"""One export, end to end: inputs -> plan -> rendering -> destination."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from exporter.errors import ExportError
from exporter.formation import APP_NAME, Options, load_formation
from exporter.formats import FORMAT_NAMES, Install, get_format, render
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
    Destination,
    SyncPlan,
    apply_sync,
    manifest_name,
    open_destination,
    plan_sync,
)


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
) -> int:
    """Exit status: 0 done, 1 --dry-run found changes; bad input raises ExportError.

    With `destdir` (a package build) LOCATION is the installed path: the files name it, and
    are written under DESTDIR + LOCATION; no manifest unless `manifest` names one."""
    if format_name not in FORMAT_NAMES:
        raise ExportError(f"unknown format {format_name!r}: use one of {', '.join(FORMAT_NAMES)}")
    if dry_run and location is None:
        raise ExportError("--dry-run needs a LOCATION to compare with")
    for option, value in (("--destdir", destdir), ("--manifest", manifest)):
        if value is not None and location is None:
            raise ExportError(f"{option} needs a LOCATION: the directory the files go to")
    if template_dir is not None and not template_dir.is_dir():
        raise ExportError("--template: no such directory", str(template_dir))
    if template_dir is not None and get_format(format_name).template_folder is None:
        raise ExportError(
            f"--template: the {format_name} format has no templates to override (its files are "
            "written as data, escaping included)"
        )
    if uninstall:
        if location is None:
            raise ExportError("--uninstall needs a LOCATION to remove the app from")
        if destdir is not None:
            raise ExportError("--uninstall removes an installed app: it takes no --destdir")
        return run_uninstall(format_name, location, options, dry_run, force, quiet, color, manifest)
    fmt = get_format(format_name)
    plan = build_plan(
        load_formation(options._replace(default_user=fmt.writes_default_user), Path.cwd())
    )
    if location is None:
        from exporter.report import preview

        sys.stdout.write(preview(render(format_name, plan, template_dir)))
        return 0
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
    log_steps = [] if target.staging is not None else _prepare_log_dir(plan, format_name)
    if not quiet and target.staging is not None:
        from exporter.report import package_summary

        steps = package_steps(fmt, plan.app, target.installed, rendering)
        sys.stderr.write(package_summary(sync, steps))
    elif not quiet:
        from exporter.report import summary

        changed = [c.path for c in sync.changes if c.action is Action.UPDATE]
        removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
        steps = [
            f"chown {shlex.quote(c.owner[0] + (':' + c.owner[1] if c.owner[1] else ''))} "
            f"{shlex.quote(str(location / c.path))}"
            for c in not_owned
            if c.owner is not None
        ]
        steps += log_steps
        if fmt.absolute_paths_in_steps:
            created = [c.path for c in sync.changes if c.action is Action.CREATE]
            where = location.absolute()
            steps += fmt.next_steps(
                plan.app,
                [str(where / path) for path in changed],
                [str(where / path) for path in removed],
                [str(where / path) for path in created],
            )
        else:
            steps += fmt.next_steps(plan.app, changed, removed)
        if fmt.location_steps is not None:
            actions = {c.path: c.action.value for c in sync.changes}
            steps += fmt.location_steps(os.path.abspath(location), actions)
        sys.stderr.write(summary(sync, steps))
    return 0


def _manifest_place(manifest: Path | None, inside: Path) -> dict[str, object]:
    """plan_sync's manifest arguments: none (--destdir), LOCATION's own, or --manifest PATH."""
    if manifest is None:
        return {"no_manifest": True}
    if manifest == inside:
        return {}
    return {"external_manifest": manifest}


def _show_diff(sync: SyncPlan, color: bool, rendering: dict | None = None) -> int:
    """--dry-run: the diff on stdout, the cleanup of an interrupted export on stderr."""
    from exporter.report import interrupted_note, unified_diff

    sys.stdout.write(unified_diff(sync, color, rendering))
    sys.stderr.write(interrupted_note(sync))
    return 1 if sync.pending or sync.interrupted else 0


def _prepare_log_dir(plan: Plan, format_name: str) -> list[str]:
    """-l DIR: create it for the processes when it is missing; what is left to the operator."""
    if plan.log is None or not plan.processes or not get_format(format_name).uses_log_dir:
        return []
    from exporter.logdir import prepare_log_dir

    first = plan.processes[0].type
    if get_format(format_name).runs_as_invoker and first.user_setting is None:
        import getpass  # a user manager, a LaunchAgent: the processes run as who exports

        return prepare_log_dir(plan.log, (getpass.getuser(), first.group))
    return prepare_log_dir(plan.log, (first.user, first.group))


def run_uninstall(
    format_name: str,
    location: Path,
    options: Options,
    dry_run: bool,
    force: bool,
    quiet: bool,
    color: bool,
    manifest_path: str | None = None,
) -> int:
    """The sync of an empty rendering: every file the manifest lists is removed, under the
    same refusals as an export; then the manifest itself."""
    if options.app is not None and not APP_NAME.fullmatch(options.app):
        raise ExportError(f"invalid app name {options.app!r}")  # it names the manifest
    writes_default_user = get_format(format_name).writes_default_user
    app = (
        options.app
        or load_formation(options._replace(default_user=writes_default_user), Path.cwd()).app
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
        fmt = get_format(format_name)
        if fmt.check_removal is not None and not force:  # runit: a running instance
            fmt.check_removal(location, [c.path for c in sync.changes if c.action is Action.REMOVE])
        if dry_run:
            _show_diff(sync, color)
            return 1
        apply_sync(dest, sync._replace(manifest=None))  # the manifest goes last, below
        manifest.unlink(missing_ok=True)
        _forget_location(dest)
    if not quiet:
        from exporter.report import summary

        removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
        if fmt.absolute_paths_in_steps:
            removed = [str(location.absolute() / path) for path in removed]
        steps = fmt.uninstall_steps(app, removed)
        if fmt.location_steps is not None:  # runit: unlink from runsvdir, delete what is left
            actions = {c.path: c.action.value for c in sync.changes}
            steps += fmt.location_steps(os.path.abspath(location), actions)
        sys.stderr.write(summary(sync, steps, always=True))
    return 0


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
    import os

    from exporter.secret_digest import KEY_FILE
    from exporter.sync import LOCK_NAME

    names = os.listdir(dest.fd)
    if any(name.startswith(".procexport.") and name.endswith(".toml") for name in names):
        return  # another app's (or format's) manifest: its key and lock stay
    for name in (KEY_FILE, LOCK_NAME):
        if name in names:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dest.fd)
