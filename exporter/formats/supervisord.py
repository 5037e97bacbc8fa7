"""supervisord: one APP.conf with a [program:APP-T-N] per instance and a [group:APP]."""

from __future__ import annotations

import shlex

import jinja2

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, Format, Rendering
from exporter.plan import Plan

_INLINE_COMMENT = (";", "#")


def supervisor_command(shell: str, command: str) -> str:
    """command= for `SHELL -c COMMAND`: POSIX-quoted for supervisor's shlex.split, `%` doubled,
    and no `;` or `#` ever right after white space, where RawConfigParser would cut the line."""
    _refuse_line_breaks(command, "the command")
    quoted = shlex.quote(command)
    # Inside a single-quoted word, '' closes and reopens the quote: the same word for shlex,
    # but the comment character no longer follows white space.
    unbroken = "".join(
        "''" + char if char in _INLINE_COMMENT and i and quoted[i - 1].isspace() else char
        for i, char in enumerate(quoted)
    )
    return f"{shell} -c {unbroken}".replace("%", "%%")


def supervisor_environment(var: EnvVar) -> str:
    """KEY="value" for environment=, which supervisor 4 reads with a non-POSIX shlex: no
    escapes, and every quote character at either end of a value is stripped."""
    problem = _environment_problem(var.value)
    if problem:
        raise ExportError(
            f"supervisord cannot carry the value of {var.name} ({var.origin}) in environment=: "
            f"it {problem}; use --env-mode file for values from .env files"
        )
    quote = '"' if '"' not in var.value else "'"
    return f"{var.name}={quote}{var.value}{quote}".replace("%", "%%")


def supervisor_path(value: str) -> str:
    """A path for directory=: taken verbatim, `%` doubled for supervisor's one expansion."""
    if (
        any(not c.isprintable() for c in value)
        or value != value.strip()
        or _comment_after_space(value)
    ):
        raise ExportError(
            f"supervisord cannot carry the path {value!r}: no control characters, no leading or "
            "trailing white space, no ';' or '#' after white space"
        )
    return value.replace("%", "%%")


def supervisor_log_path(value: str) -> str:
    """A path for stdout_logfile=, which supervisor expands twice: `%` written four times."""
    return supervisor_path(value).replace("%", "%%")


def _environment_problem(value: str) -> str | None:
    if "\n" in value or "\r" in value:
        return "holds a line break"
    if '"' in value and "'" in value:
        return "holds both kinds of quote"
    if value[:1] in ("'", '"') or value[-1:] in ("'", '"'):
        return "starts or ends with a quote"
    if _comment_after_space(value):
        return "holds ';' or '#' after white space"
    return None


def _comment_after_space(value: str) -> bool:
    return any(c in _INLINE_COMMENT and i and value[i - 1].isspace() for i, c in enumerate(value))


def _refuse_line_breaks(value: str, what: str) -> None:
    if "\n" in value or "\r" in value:
        raise ExportError(f"supervisord cannot carry {what} {value!r}: it holds a line break")


def render_supervisord(plan: Plan, templates: jinja2.Environment) -> Rendering:
    for process in plan.processes:
        if process.type.group is not None:
            raise ExportError(
                f"supervisord cannot run {process.name} with group {process.type.group!r}: it "
                "only switches to the user's own groups; remove `group` for this format"
            )
    programs = {
        instance: f"{plan.app}-{instance.type}-{instance.number}" for instance in plan.instances
    }
    template = templates.get_template("app.conf.j2")
    return {f"{plan.app}.conf": File(template.render(plan=plan, programs=programs))}


def supervisord_next_steps(app: str, changed: list[str], removed: list[str]) -> list[str]:
    return ["supervisorctl reread", "supervisorctl update"]


FORMAT = Format(
    name="supervisord",
    filters={
        "supervisor_command": supervisor_command,
        "supervisor_environment": supervisor_environment,
        "supervisor_path": supervisor_path,
        "supervisor_log_path": supervisor_log_path,
    },
    render=render_supervisord,
    next_steps=supervisord_next_steps,
)
