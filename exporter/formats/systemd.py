"""systemd: APP.target -> APP-T.target -> APP-T@.service, a drop-in per instance.

systemd-user is the same layout for a user's own manager (`systemctl --user`): one render with
a `user_manager` flag, the same templates.
"""

from __future__ import annotations

import functools
import re

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, FileChange, Format, RenderContext, Rendering, secrets_header
from exporter.formats.shell import env_file_entries
from exporter.plan import Plan

UNIT_NAME_MAX = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Inside a double-quoted word: C escapes for the backslash, the quote and control characters.
_QUOTED = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
    | {chr(c): f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\n\t"}
)
_ENV_FILE_QUOTED = str.maketrans({c: "\\" + c for c in '"\\`$'})


@functools.cache
def systemd_exec_arg(value: str) -> str:
    """One ExecStart= word that systemd turns back into exactly `value`.

    Double-quoted with C escapes; `%` and `$` doubled because specifiers are resolved and
    `$VAR` substituted after unquoting.
    """
    escaped = value.translate(_QUOTED).replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


@functools.cache
def systemd_environment(var: EnvVar) -> str:
    """One Environment= assignment, quoted with C escapes; `$` has no meaning there, `%` does."""
    escaped = f"{var.name}={var.value}".translate(_QUOTED).replace("%", "%%")
    return f'"{escaped}"'


@functools.cache
def systemd_path(value: str) -> str:
    """An absolute path for WorkingDirectory= or append:, which take the rest of the line
    verbatim: only `%` can be escaped, and a trailing backslash would continue the line."""
    if _CONTROL.search(value) or value != value.strip() or value.endswith("\\"):
        raise ExportError(
            f"systemd cannot carry the path {value!r}: no control characters, no leading or "
            "trailing white space, no trailing backslash"
        )
    return value.replace("%", "%%")


def systemd_env_file_line(var: EnvVar) -> str:
    """One line of an EnvironmentFile=: no specifiers or `$` there. Single quotes keep every
    character (line breaks too); a value holding `'` goes in double quotes, where a backslash
    is taken away only before `"`, `\\`, a backtick and `$`."""
    if "'" not in var.value:
        return f"{var.name}='{var.value}'\n"
    return f'{var.name}="{var.value.translate(_ENV_FILE_QUOTED)}"\n'


def render_systemd(plan: Plan, context: RenderContext, user_manager: bool = False) -> Rendering:
    from exporter.templating import instance_renderer

    files: Rendering = {}
    if user_manager:
        refuse_accounts(plan)

    def add(unit: str, template: str, **values: object) -> None:
        """A unit file: named by its unit."""
        text = context.templates.get_template(template).render(
            plan=plan, user_manager=user_manager, **values
        )
        files[unit] = File(text, unit=unit)

    add(f"{plan.app}.target", "app.target.j2")
    if plan.release is not None:
        path, file = render_systemd_release(plan, context, user_manager)
        files[path] = file
    for process in plan.processes:
        prefix = process.full_name
        last = f"{prefix}@{process.instances[-1].number}.service"
        if len(last) > UNIT_NAME_MAX:
            raise ExportError(f"unit name {last!r} is longer than systemd's {UNIT_NAME_MAX}")
        add(f"{prefix}.target", "type.target.j2", process=process)
        add(
            f"{prefix}@.service",
            "type.service.j2",
            process=process,
            env_file=context.env_file_path(process),
        )
        render_instance = instance_renderer(
            context.templates,
            "instance.conf.j2",
            plan=plan,
            user_manager=user_manager,
            process=process,
        )
        for instance in process.instances:
            unit = f"{prefix}@{instance.number}.service"
            files[f"{unit}.d/instance.conf"] = File(render_instance(instance), unit=unit)
    for name, process in plan.env_files.items():  # read by the manager itself
        lines = "".join(systemd_env_file_line(var) for var in process.secret_env)
        files[name] = File(
            secrets_header(plan.procfile) + lines, mode=0o600, entries=env_file_entries
        )
    return files


def render_systemd_release(
    plan: Plan, context: RenderContext, user_manager: bool = False
) -> tuple[str, File]:
    """APP-release.service: a oneshot that every instance Requires= and follows (After=).

    RemainAfterExit=yes keeps it active after success, so the restart of a crashed instance
    finds its requirement met and does not rerun it; PartOf=APP.target makes a stop or restart
    of the app stop it too, so the next start of the app runs it again."""
    process = plan.release
    assert process is not None
    text = context.templates.get_template("release.service.j2").render(
        plan=plan,
        user_manager=user_manager,
        process=process,
        instance=process.instances[0],
        env_file=context.env_file_path(process),
    )
    unit = f"{process.full_name}.service"
    return unit, File(text, unit=unit)


def refuse_accounts(plan: Plan) -> None:
    """A user manager runs every unit as its own user: an explicit user or group is an error."""
    for process in (*plan.processes, *filter(None, [plan.release])):
        for setting, value in (
            (process.type.user_setting, process.type.user),
            (process.type.group_setting, process.type.group),
        ):
            if setting is not None:
                raise ExportError(
                    f"{setting.key} {value!r}: systemd-user units run as the user whose "
                    "manager (systemctl --user) loads them and cannot switch to another "
                    "account; remove the setting or use the systemd format",
                    setting.file,
                    setting.line,
                )


def systemd_unit_of(path: str) -> str | None:
    """The unit a file belongs to, by systemd's own naming: a unit file is named by its unit,
    a drop-in lives in UNIT.d/. None for an env file."""
    unit = path.split("/")[0].removesuffix(".d")
    return unit if unit.endswith((".service", ".target")) else None


def systemd_next_steps(
    app: str, changes: list[FileChange], location: str, user_manager: bool = False
) -> list[str]:
    """Stop what a removed file ran (an instance, a target, the release), never a template
    (APP-T@.service runs nothing by itself), then reload and (re)start the app."""
    systemctl = "systemctl --user" if user_manager else "systemctl"
    stop = {
        c.unit
        for c in changes
        if c.action == "removed" and c.unit is not None and not c.unit.endswith("@.service")
    }
    steps = [f"{systemctl} stop {' '.join(sorted(stop))}"] if stop else []
    steps += [f"{systemctl} daemon-reload", f"{systemctl} enable --now {app}.target"]
    if any(c.action == "changed" for c in changes):
        steps.append(f"{systemctl} restart {app}.target")
    if user_manager:
        steps.append('loginctl enable-linger "$USER"  # or they stop when you log out')
    return steps


def systemd_package_steps(app: str, location: str) -> list[str]:
    """The maintainer scripts of a package that installs the units. Stopping APP.target stops
    every instance (they are PartOf it), so an upgrade that scales down leaves none behind."""
    return [
        f"postinst: systemctl daemon-reload && systemctl enable --now {app}.target",
        f"prerm: systemctl stop {app}.target",
        "postrm: systemctl daemon-reload",
        f"Debian: dh_installsystemd writes these (deb-systemd-helper enable {app}.target, "
        f"deb-systemd-invoke start/stop) for units it finds in /lib/systemd/system",
        f"RPM: %systemd_post {app}.target in %post, %systemd_preun {app}.target in %preun, "
        f"%systemd_postun_with_restart {app}.target in %postun; a preset "
        f"(`enable {app}.target`) enables it",
    ]


def systemd_uninstall_steps(
    app: str, changes: list[FileChange], location: str, user_manager: bool = False
) -> list[str]:
    """systemd keeps a removed unit loaded until daemon-reload: stop it, drop the
    multi-user.target.wants (or default.target.wants) link, then forget it."""
    systemctl = "systemctl --user" if user_manager else "systemctl"
    return [f"{systemctl} disable --now {app}.target", f"{systemctl} daemon-reload"]


def systemd_format(user_manager: bool) -> Format:
    """The system manager's format, or (user_manager) the same for `systemctl --user`."""
    return Format(
        filters={
            "systemd_exec_arg": systemd_exec_arg,
            "systemd_environment": systemd_environment,
            "systemd_path": systemd_path,
        },
        render=functools.partial(render_systemd, user_manager=user_manager),
        next_steps=functools.partial(systemd_next_steps, user_manager=user_manager),
        uninstall_steps=functools.partial(systemd_uninstall_steps, user_manager=user_manager),
        unit_of=systemd_unit_of,
        # a package installs system units; a user manager's units have no maintainer scripts
        package_steps=None if user_manager else systemd_package_steps,
        runs_as_invoker=user_manager,
        writes_default_user=not user_manager,
        template_folder="systemd",
    )


FORMAT = systemd_format(user_manager=False)
USER_FORMAT = systemd_format(user_manager=True)
