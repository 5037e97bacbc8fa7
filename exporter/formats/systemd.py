"""systemd: APP.target -> APP-T.target -> APP-T@.service, a drop-in per instance."""

from __future__ import annotations

import functools
import re

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, Format, RenderContext, Rendering, secrets_header
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


def render_systemd(plan: Plan, context: RenderContext) -> Rendering:
    files: Rendering = {}

    def add(path: str, template: str, **values: object) -> None:
        text = context.templates.get_template(template).render(plan=plan, **values)
        files[path] = File(text)

    add(f"{plan.app}.target", "app.target.j2")
    for process in plan.processes:
        unit = f"{plan.app}-{process.name}"
        last = f"{unit}@{process.instances[-1].number}.service"
        if len(last) > UNIT_NAME_MAX:
            raise ExportError(f"unit name {last!r} is longer than systemd's {UNIT_NAME_MAX}")
        add(f"{unit}.target", "type.target.j2", process=process)
        add(
            f"{unit}@.service",
            "type.service.j2",
            process=process,
            env_file=context.env_file_path(process),
        )
        for instance in process.instances:
            add(
                f"{unit}@{instance.number}.service.d/instance.conf",
                "instance.conf.j2",
                process=process,
                instance=instance,
            )
    for name, process in plan.env_files.items():  # read by systemd itself, as root
        lines = "".join(systemd_env_file_line(var) for var in process.secret_env)
        files[name] = File(
            secrets_header(plan.procfile) + lines, mode=0o600, entries=env_file_entries
        )
    return files


def systemd_next_steps(app: str, changed: list[str], removed: list[str]) -> list[str]:
    stop = [path.removesuffix(".d/instance.conf") for path in removed if path.endswith(".conf")]
    stop += [path for path in removed if path.endswith(".target")]
    steps = [f"systemctl stop {' '.join(sorted(set(stop)))}"] if stop else []
    steps += ["systemctl daemon-reload", f"systemctl enable --now {app}.target"]
    if changed:
        steps.append(f"systemctl restart {app}.target")
    return steps


FORMAT = Format(
    name="systemd",
    filters={
        "systemd_exec_arg": systemd_exec_arg,
        "systemd_environment": systemd_environment,
        "systemd_path": systemd_path,
    },
    render=render_systemd,
    next_steps=systemd_next_steps,
)
