"""supervisord: one APP.conf with a [program:APP-T-N] per instance and a [group:APP]."""

from __future__ import annotations

import functools
import re
import shlex

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, Format, RenderContext, Rendering
from exporter.formats.shell import main_argv, sh_env_files
from exporter.plan import Plan

# RawConfigParser cuts a value at `;` or `#` after white space (str.isspace, as re's \s).
_INLINE_COMMENT = re.compile(r"(?<=\s)[;#]")


@functools.cache
def supervisor_command(argv: tuple[str, ...]) -> str:
    """command= for an argv: each word POSIX-quoted for supervisor's shlex.split, `%` escaped
    (supervisor_expansion), and no `;` or `#` ever right after white space, where
    RawConfigParser would cut the line."""
    return supervisor_expansion(" ".join(_supervisor_word(word) for word in argv))


def _supervisor_word(word: str) -> str:
    _refuse_line_breaks(word, "the command")
    quoted = shlex.quote(word)
    # Inside a single-quoted word, '' closes and reopens the quote: the same word for shlex,
    # but the comment character no longer follows white space.
    return _INLINE_COMMENT.sub(lambda match: "''" + match.group(), quoted)


@functools.cache
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
    return supervisor_expansion(f"{var.name}={quote}{var.value}{quote}")


@functools.cache
def supervisor_path(value: str) -> str:
    """A path for directory=: taken verbatim, escaped for supervisor's one expansion."""
    _check_path(value)
    return supervisor_expansion(value)


def supervisor_log_path(value: str) -> str:
    """A path for stdout_logfile=, which supervisor expands twice."""
    _check_path(value)
    return supervisor_expansion(value, rounds=2)


@functools.cache
def supervisor_expansion(value: str, rounds: int = 1) -> str:
    """`value` written so that supervisor's `%` expansion, run `rounds` times, gives it back.

    Each round is Python's `value % names` (options.py `expand`, names: here, program_name,
    group_name, process_num, numprocs, host_node_name, ENV_*): `%` is written `%%` per round.
    Before any round, supervisor replaces the text `%(here)s` in every value of the file with
    the file's directory (`expand_here`, a plain str.replace), which would also hit the `%(here)s`
    inside an escaped `%%(here)s`. So `%(here).0s` (the `here` name at precision 0: nothing) is
    put between the escaped `%` and `(here)s`: `%(here)s` becomes `%%%(here).0s(here)s`.
    """
    escaped = value.replace("%", "%" * 2**rounds)
    empty = "%" * 2 ** (rounds - 1) + "(here).0s"
    return escaped.replace("%(here)s", "%" + empty + "(here)s")


def _check_path(value: str) -> None:
    if (
        any(not c.isprintable() for c in value)
        or value != value.strip()
        or _comment_after_space(value)
    ):
        raise ExportError(
            f"supervisord cannot carry the path {value!r}: no control characters, no leading or "
            "trailing white space, no ';' or '#' after white space"
        )


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
    return _INLINE_COMMENT.search(value) is not None


def _refuse_line_breaks(value: str, what: str) -> None:
    if "\n" in value or "\r" in value:
        raise ExportError(f"supervisord cannot carry {what} {value!r}: it holds a line break")


def supervisor_program_name(app: str, type_name: str, number: int) -> str:
    """APP.T-N: unique across the apps of one include directory, where every [program:]
    section shares one namespace (a second section of the same name merges into the first).
    A process type name never holds `.` (letters, digits, `_`, `-`), so the last `.` always
    ends the app name: app `a` type `b-c` is `a.b-c-1`, app `a-b` type `c` is `a-b.c-1`.
    supervisor refuses only ` `, `:` and `/` in a name (datatypes.process_or_group_name)."""
    return f"{app}.{type_name}-{number}"


def render_supervisord(plan: Plan, context: RenderContext) -> Rendering:
    for process in plan.processes:
        if process.type.group is not None:
            raise ExportError(
                f"supervisord cannot run {process.name} with group {process.type.group!r}: it "
                "only switches to the user's own groups; remove `group` for this format"
            )
    programs = {
        instance: supervisor_program_name(plan.app, instance.type, instance.number)
        for instance in plan.instances
    }
    commands = {
        process.name: tuple(
            main_argv(plan.shell, process.type.command, context.env_file_path(process))
        )
        for process in plan.processes
    }
    template = context.templates.get_template("app.conf.j2")
    text = template.render(plan=plan, programs=programs, commands=commands)
    return {f"{plan.app}.conf": File(text)} | sh_env_files(plan)


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
