"""supervisord: one APP.conf with a [program:APP-T-N] per instance and a [group:APP]."""

from __future__ import annotations

import functools
import os
import re
import shlex
from pathlib import Path

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, FileChange, Format, RenderContext, Rendering
from exporter.formats.shell import main_argv, sh_env_files
from exporter.plan import Instance, Plan

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


def supervisor_program_name(instance: Instance) -> str:
    """APP-T-N (APP-release), the instance's name in the plan. In one include directory every
    [program:] section shares one namespace (a second section of the same name merges into the
    first), and app `a` type `b-c` and app `a-b` type `c` both give `a-b-c-1`:
    check_neighbours refuses that clash when writing."""
    return instance.full_name


_SECTION = re.compile(r"^\[(?:program|group|fcgi-program|eventlistener):([^\]]*)\]", re.M)


def check_neighbours(location: Path, rendering: Rendering) -> None:
    """Refuse a program or group name that another configuration in LOCATION (the include
    directory) defines too: supervisord would merge the two sections and run one command for
    both. Only regular files are read, never through a link."""
    ours = {name for file in rendering.values() for name in _SECTION.findall(file.text)}
    try:
        entries = list(os.scandir(location))
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise ExportError(f"cannot read: {exc.strerror}", str(location)) from None
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name in rendering or not entry.name.endswith(".conf"):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            with open(entry.path, "rb") as handle:  # a regular file, checked without following
                text = handle.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            continue
        clash = sorted(ours & set(_SECTION.findall(text)))
        if clash:
            raise ExportError(
                f"supervisord would merge [program:{clash[0]}] with the section of that name "
                f"in {entry.name} and run one command for both: choose another app name (-a)",
                str(location),
            )


def render_supervisord(plan: Plan, context: RenderContext) -> Rendering:
    for process in plan.processes:
        if process.type.group is not None:
            raise ExportError(
                f"supervisord cannot run {process.name} with group {process.type.group!r}: it "
                "only switches to the user's own groups; remove `group` for this format"
            )
    programs = {instance: supervisor_program_name(instance) for instance in plan.instances}
    commands = {
        process.name: tuple(
            main_argv(
                plan.shell,
                process.type.command,
                context.env_file_path(process),
                process.type.login,
            )
        )
        for process in plan.processes
    }
    if plan.release is not None:
        programs, commands = _with_release_program(plan, context, programs, commands)
    template = context.templates.get_template("app.conf.j2")
    text = template.render(
        plan=plan, programs=programs, commands=commands, environments=_environments(plan)
    )
    # one file for the app's group of programs
    return {f"{plan.app}.conf": File(text, unit=plan.app)} | sh_env_files(plan)


def _environments(plan: Plan) -> dict[Instance, str]:
    """environment= of each instance: its type's variables, then PORT and PS, each through
    supervisor_environment (what `(process.inline_env + instance.env) |
    map("supervisor_environment") | join(",")` gives, without a Jinja filter call per variable
    of every instance: most of a large export's time)."""
    found = {}
    for process in (*plan.processes, *filter(None, [plan.release])):
        shared = [supervisor_environment(var) for var in process.inline_env]
        for instance in process.instances:
            found[instance] = ",".join(shared + [supervisor_environment(v) for v in instance.env])
    return found


def _with_release_program(
    plan: Plan,
    context: RenderContext,
    programs: dict[Instance, str],
    commands: dict[str, tuple[str, ...]],
) -> tuple[dict[Instance, str], dict[str, tuple[str, ...]]]:
    """The release phase as a program of its own, first in the group: started first (lowest
    priority), once (autorestart=false), and done when it exits (startsecs=0)."""
    release = plan.release
    assert release is not None
    if release.type.group is not None:
        raise ExportError(
            f"supervisord cannot run release with group {release.type.group!r}: it only "
            "switches to the user's own groups; remove `group` for this format"
        )
    name = supervisor_program_name(release.instances[0])
    argv = tuple(
        main_argv(
            plan.shell, release.type.command, context.env_file_path(release), release.type.login
        )
    )
    return {release.instances[0]: name} | programs, commands | {release.name: argv}


def supervisord_unit_of(path: str) -> str | None:
    """The group an include file defines: APP.conf holds [group:APP] (None: an env file)."""
    return path.removesuffix(".conf") if path.endswith(".conf") else None


def supervisord_next_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    return ["supervisorctl reread", "supervisorctl update"]


def supervisord_package_steps(app: str, location: str) -> list[str]:
    """`update` starts new programs, restarts changed ones and drops removed ones."""
    return [
        "postinst: supervisorctl reread && supervisorctl update",
        f"postrm: supervisorctl reread && supervisorctl update (stops the {app} group once "
        f"{location}/{app}.conf is gone)",
    ]


def supervisord_uninstall_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """`update` stops and removes the programs whose configuration is gone."""
    return ["supervisorctl reread", "supervisorctl update"]


FORMAT = Format(
    filters={
        "supervisor_command": supervisor_command,
        "supervisor_environment": supervisor_environment,
        "supervisor_path": supervisor_path,
        "supervisor_log_path": supervisor_log_path,
    },
    render=render_supervisord,
    uninstall_steps=supervisord_uninstall_steps,
    next_steps=supervisord_next_steps,
    unit_of=supervisord_unit_of,
    package_steps=supervisord_package_steps,
    check_neighbours=check_neighbours,
)
