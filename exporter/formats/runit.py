"""runit: a service directory APP-T-N/ per instance, for runsvdir (linked into /etc/service).

Each holds `run` (the app, in a process group of its own), `log/run` (svlogd) and `control/t`
and `control/k`, which runsv runs instead of signalling only its child: they signal the whole
process group, and `control/t` leaves a guard that sends SIGKILL after the type's timeout.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from exporter.errors import ExportError
from exporter.formats import File, FileChange, Format, RenderContext, Rendering
from exporter.formats.shell import main_argv, sh_env_files, shell_quote
from exporter.plan import Instance, Plan
from exporter.rendering import generated_by

# Where runsvdir looks on Debian (Void Linux: /var/service); next steps link into it.
SERVICE_DIR = "/etc/service"
SCRIPT = 0o755


def chpst_account(user: str, group: str | None) -> str:
    """The argument of `chpst -u`: names as `user[:group]`, ids as `:uid:gid`.

    chpst looks a name up in /etc/passwd and /etc/group, and takes numbers only after a
    leading colon and only for both; anything else it cannot run as is refused."""
    if not user.isdigit() and (group is None or not group.isdigit()):
        return user if group is None else f"{user}:{group}"
    if user.isdigit() and group is not None and group.isdigit():
        return f":{user}:{group}"
    raise ExportError(
        f"runit cannot run as user {user!r}"
        + (f" and group {group!r}" if group is not None else "")
        + ": chpst takes a user and group by name, or both as numbers (set a numeric group)"
    )


def render_runit(plan: Plan, context: RenderContext) -> Rendering:
    from exporter.templating import instance_renderer

    files: Rendering = {}
    release = (plan.release,) if plan.release is not None else ()

    def named_after(instance: Instance) -> dict[str, str]:
        """What the templates get that is named after the instance."""
        return {"log_dir": _log_dir(plan, instance.full_name)}

    for process in (*release, *plan.processes):
        account = chpst_account(process.type.user, process.type.group)
        argv = main_argv(
            plan.shell, process.type.command, context.env_file_path(process), process.type.login
        )
        values = {
            "plan": plan,
            "process": process,
            "account": account,
            # `user:` is the user and their login group, as chpst -u gives the app
            "owner": f"{process.type.user}:{process.type.group or ''}",
            "argv": argv,
        }
        # `run` last: runsvdir may start a runsv on the directory as soon as it appears
        # (LOCATION used as runsvdir's directory), and runsv looks for log/ only then.
        renderers = [
            (path, instance_renderer(context.templates, template, named_after, **values))
            for path, template in (
                ("control/t", "control_t.j2"),
                ("control/k", "control_k.j2"),
                ("log/run", "log_run.j2"),
                ("run", "run.j2"),
            )
        ]
        for instance in process.instances:
            service = instance.full_name  # APP-T-N, APP-release
            if process in release:  # started by `sv once` (a `down` file keeps runsv from it)
                note = "runsv does not start this service by itself; `sv once` runs it once."
                files[f"{service}/down"] = File(
                    generated_by(plan.procfile, note) + "\n", unit=service
                )
            for path, render_instance in renderers:
                files[f"{service}/{path}"] = File(
                    render_instance(instance), mode=SCRIPT, unit=service
                )
    return files | sh_env_files(plan)


def _log_dir(plan: Plan, service: str) -> str:
    """svlogd's directory: LOG/APP-T-N with -l, else ./main beside log/run."""
    return "./main" if plan.log is None else f"{plan.log}/{service}"


def runit_unit_of(path: str) -> str | None:
    """The service a file belongs to: runit's service is a directory (None: an env file)."""
    service, slash, _ = path.partition("/")
    return service if slash else None


def runit_next_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """Link new service directories into runsvdir's, restart changed ones, unlink removed
    ones (stopped already: check_stopped) and delete what runsv left of them in LOCATION."""

    def services(action: str, script: str = "run") -> list[str]:
        return sorted(
            c.unit
            for c in changes
            if c.action == action and c.unit is not None and c.path == f"{c.unit}/{script}"
        )

    created, removed = services("created"), services("removed")
    restart = services("changed")
    if any(c.action == "changed" and c.unit is None for c in changes):
        restart = services("changed") + services("unchanged")  # an env file they all source
    restart_logs = sorted(set(services("changed", "log/run")) - set(created) - set(removed))

    def linked(names: list[str], suffix: str = "") -> str:
        return " ".join(f"{SERVICE_DIR}/{name}{suffix}" for name in names)

    steps = []
    if removed:  # stopped before the export (check_stopped); runsv's state is left
        steps += [
            f"rm -f {linked(removed)}",
            "rm -rf " + " ".join(shell_quote(f"{location}/{name}") for name in removed),
        ]
    if created:
        targets = " ".join(shell_quote(f"{location}/{name}") for name in created)
        steps.append(f"ln -s {targets} {SERVICE_DIR}/")
    release = [
        c.unit
        for c in changes
        if c.unit is not None and c.path == f"{c.unit}/down" and c.action != "removed"
    ]
    if release:  # once per deploy: runsv never restarts it (`down`), nor holds the others back
        steps.append(f"sv once {linked(release)}")
    if restart:
        steps.append(f"sv restart {linked(sorted(restart))}")
    if restart_logs:
        steps.append(f"sv restart {linked(restart_logs, '/log')}")
    return steps


def check_stopped(location: Path, removed: list[str]) -> None:
    """Refuse to remove the files of a service that runsv still runs: without its control/t,
    `sv down` would send TERM to the shell in front of the app and leave the app running."""
    for path in removed:
        service = runit_unit_of(path)
        if service is None or path != f"{service}/run":
            continue
        pid = _running_pid(location / service)
        if pid is not None:
            raise ExportError(
                f"runsv still runs this instance (pid {pid}) and needs its control/t to stop "
                f"it: run 'sv down {SERVICE_DIR}/{service}' first, or use --force",
                str(location / service),
            )


def _running_pid(service: Path) -> int | None:
    """The pid in supervise/pid (empty while the service is down), if that process lives."""
    # never through a link, never blocking on a FIFO put in the place of runsv's file
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        for path in (service, service / "supervise"):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return None
        handle = os.open(service / "supervise" / "pid", flags)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                return None
            pid = int(os.read(handle, 64).decode("ascii").strip())
        finally:
            os.close(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


FORMAT = Format(
    filters={"shell_quote": shell_quote},
    render=render_runit,
    next_steps=runit_next_steps,
    uninstall_steps=runit_next_steps,
    unit_of=runit_unit_of,
    check_removal=check_stopped,
)
