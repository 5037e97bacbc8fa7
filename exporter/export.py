"""One export, end to end: inputs -> plan -> rendering -> destination."""

from __future__ import annotations

import sys
from pathlib import Path

from exporter.errors import ExportError
from exporter.formation import APP_NAME, Options, load_formation
from exporter.formats import FORMAT_NAMES, get_format, render
from exporter.plan import Plan, build_plan
from exporter.sync import Action, apply_sync, manifest_name, plan_sync, preview


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
    uninstall: bool = False,
) -> int:
    """Exit status: 0 done, 1 --dry-run found changes; bad input raises ExportError."""
    if format_name not in FORMAT_NAMES:
        raise ExportError(f"unknown format {format_name!r}: use one of {', '.join(FORMAT_NAMES)}")
    if dry_run and location is None:
        raise ExportError("--dry-run needs a LOCATION to compare with")
    if template_dir is not None and not template_dir.is_dir():
        raise ExportError("--template: no such directory", str(template_dir))
    if uninstall:
        if location is None:
            raise ExportError("--uninstall needs a LOCATION to remove the app from")
        return run_uninstall(format_name, location, options, dry_run, force, quiet, color)
    plan = build_plan(load_formation(options, Path.cwd()))
    rendering = render(format_name, plan, template_dir, location)
    if location is None:
        sys.stdout.write(preview(rendering))
        return 0
    sync = plan_sync(location, rendering, manifest_name(plan.app, format_name), force)
    if dry_run:
        from exporter.report import unified_diff

        sys.stdout.write(unified_diff(sync, color))
        return 1 if sync.pending else 0
    not_owned = apply_sync(sync)
    log_steps = _prepare_log_dir(plan, format_name)
    if not quiet:
        from exporter.report import summary

        changed = [c.path for c in sync.changes if c.action is Action.UPDATE]
        removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
        steps = [
            f"chown {c.owner[0]}{':' + c.owner[1] if c.owner[1] else ''} {location / c.path}"
            for c in not_owned
            if c.owner is not None
        ]
        steps += log_steps
        steps += get_format(format_name).next_steps(plan.app, changed, removed)
        sys.stderr.write(summary(sync, steps))
    return 0


def _prepare_log_dir(plan: Plan, format_name: str) -> list[str]:
    """-l DIR: create it for the processes when it is missing; what is left to the operator."""
    if plan.log is None or not plan.processes or not get_format(format_name).uses_log_dir:
        return []
    from exporter.logdir import prepare_log_dir

    first = plan.processes[0].type
    return prepare_log_dir(plan.log, (first.user, first.group))


def run_uninstall(
    format_name: str,
    location: Path,
    options: Options,
    dry_run: bool,
    force: bool,
    quiet: bool,
    color: bool,
) -> int:
    """The sync of an empty rendering: every file the manifest lists is removed, under the
    same refusals as an export; then the manifest itself."""
    if options.app is not None and not APP_NAME.fullmatch(options.app):
        raise ExportError(f"invalid app name {options.app!r}")  # it names the manifest
    app = options.app or load_formation(options, Path.cwd()).app
    manifest = manifest_name(app, format_name)
    if not (location / manifest).is_file():
        raise ExportError(
            f"nothing to uninstall: no manifest {manifest} for app {app!r} and format "
            f"{format_name!r}",
            str(location),
        )
    sync = plan_sync(location, {}, manifest, force)
    if dry_run:
        from exporter.report import unified_diff

        sys.stdout.write(unified_diff(sync, color))
        return 1
    apply_sync(sync)
    (location / manifest).unlink(missing_ok=True)
    if not quiet:
        from exporter.report import summary

        removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
        steps = get_format(format_name).uninstall_steps(app, removed)
        sys.stderr.write(summary(sync, steps, always=True))
    return 0
