"""One export, end to end: inputs -> plan -> rendering -> destination."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from exporter.errors import ExportError
from exporter.formation import Options, load_formation
from exporter.formats import FORMAT_NAMES, get_format, render
from exporter.plan import build_plan
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
) -> int:
    """Exit status: 0 done, 1 --dry-run found changes; bad input raises ExportError."""
    if format_name not in FORMAT_NAMES:
        raise ExportError(f"unknown format {format_name!r}: use one of {', '.join(FORMAT_NAMES)}")
    if dry_run and location is None:
        raise ExportError("--dry-run needs a LOCATION to compare with")
    if template_dir is not None and not template_dir.is_dir():
        raise ExportError("--template: no such directory", str(template_dir))
    plan = build_plan(load_formation(options, Path.cwd()))
    rendering = render(format_name, plan, template_dir, location)
    if location is None:
        sys.stdout.write(preview(rendering))
        return 0
    sync = plan_sync(location, rendering, manifest_name(plan.app, format_name), force)
    fmt = get_format(format_name)
    if fmt.check_removal is not None and not force:
        fmt.check_removal(location, [c.path for c in sync.changes if c.action is Action.REMOVE])
    if dry_run:
        from exporter.report import unified_diff

        sys.stdout.write(unified_diff(sync, color))
        return 1 if sync.pending else 0
    not_owned = apply_sync(sync)
    if not quiet:
        from exporter.report import summary

        changed = [c.path for c in sync.changes if c.action is Action.UPDATE]
        removed = [c.path for c in sync.changes if c.action is Action.REMOVE]
        steps = [
            f"chown {c.owner[0]}{':' + c.owner[1] if c.owner[1] else ''} {location / c.path}"
            for c in not_owned
            if c.owner is not None
        ]
        steps += fmt.next_steps(plan.app, changed, removed)
        if fmt.location_steps is not None:
            actions = {c.path: c.action.value for c in sync.changes}
            steps += fmt.location_steps(os.path.abspath(location), actions)
        sys.stderr.write(summary(sync, steps))
    return 0
