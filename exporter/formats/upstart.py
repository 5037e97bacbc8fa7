"""Upstart: APP.conf (runlevels) -> APP-T.conf -> APP-T-N.conf per instance."""

from __future__ import annotations

import functools
import re
import shlex

from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, FileChange, Format, RenderContext, Rendering
from exporter.formats.shell import main_argv, sh_env_files, shell_quote
from exporter.plan import Plan

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@functools.cache
def upstart_quote(value: str) -> str:
    """One stanza argument that libnih 1.0.3's tokenizer (nih_config_token) reads back as
    exactly `value`.

    There a backslash escapes only a backslash, white space or a line break: before `"` it is
    kept, so a `"` cannot be written inside double quotes. Quotes are removed wherever they
    appear and adjacent quoted pieces join, so the value is written in double quotes, or in
    single quotes when it holds `"`, or as pieces when it holds both: `"it's "'"'"x"'"'`.
    Every backslash is written `\\\\`. Inside quotes `#`, `$` and white space are kept, but a line
    break (and the white space around it) becomes one space, so a value holding one cannot be
    written.
    """
    if "\n" in value:
        raise ExportError(f"upstart cannot carry {value!r}: it holds a line break")
    if '"' not in value:
        return _quoted(value, '"')
    if "'" not in value:
        return _quoted(value, "'")
    pieces = re.findall(r'"+|[^"]+', value)
    return "".join(_quoted(piece, "'" if piece[0] == '"' else '"') for piece in pieces)


def _quoted(value: str, quote: str) -> str:
    return quote + value.replace("\\", "\\\\") + quote


def upstart_path(value: str) -> str:
    """A path Upstart output carries (root, log directory, env file, shell): a line break
    would end the line it is on, and in the script block a line `end script` would end the
    block and let the rest be read as stanzas. No control characters at all, like systemd."""
    if _CONTROL.search(value):
        raise ExportError(
            f"upstart cannot carry the path {value!r}: it holds a line break or another "
            "control character"
        )
    return value


@functools.cache
def upstart_env(var: EnvVar) -> str:
    """The argument of an `env` stanza: KEY="value"."""
    if "\n" in var.value:
        raise ExportError(
            f"upstart cannot carry the value of {var.name} ({var.origin}) in an env stanza: it "
            "holds a line break; use --env-mode file for values from .env files"
        )
    return f"{var.name}={upstart_quote(var.value)}"


def render_upstart(plan: Plan, context: RenderContext) -> Rendering:
    from exporter.templating import instance_renderer

    files: Rendering = {}

    def put(job: str, text: str) -> None:
        """A job file: Upstart names a job by its file, JOB.conf."""
        if f"{job}.conf" in files:  # type `web-1` and instance 1 of `web` are both APP-web-1
            raise ExportError(
                f"upstart would write two jobs named {job!r} (a type job "
                "and an instance job of another type): rename one of the process types"
            )
        files[f"{job}.conf"] = File(text, unit=job)

    def add(job: str, template: str, **values: object) -> None:
        put(job, context.templates.get_template(template).render(plan=plan, **values))

    for path in (plan.root, plan.log, plan.shell):
        if path is not None:
            upstart_path(path)
    add(plan.app, "app.conf.j2")
    for process in plan.processes:
        env_file = context.env_file_path(process)
        if env_file is not None:
            upstart_path(env_file)
        add(process.full_name, "type.conf.j2", process=process)
        # the script block is run by the shell, not tokenized by Upstart
        main = shlex.join(
            main_argv(
                plan.shell,
                process.type.command,
                env_file,
                process.type.login,
            )
        )
        render_instance = instance_renderer(
            context.templates, "instance.conf.j2", plan=plan, process=process, main=main
        )
        for instance in process.instances:
            put(instance.full_name, render_instance(instance))
    if plan.release is not None:
        files |= render_upstart_release(plan, context)
    return files | sh_env_files(plan)


def render_upstart_release(plan: Plan, context: RenderContext) -> Rendering:
    """APP-release.conf: a task (no respawn) started by `starting APP`, which therefore waits
    for it to finish; the type jobs start on `started APP and stopped APP-release RESULT=ok`,
    so a failed release starts none of them."""
    process = plan.release
    assert process is not None
    main = shlex.join(
        main_argv(
            plan.shell, process.type.command, context.env_file_path(process), process.type.login
        )
    )
    text = context.templates.get_template("release.conf.j2").render(
        plan=plan, process=process, instance=process.instances[0], main=main
    )
    return {f"{process.full_name}.conf": File(text, unit=process.full_name)}


def upstart_unit_of(path: str) -> str | None:
    """The job a file defines: Upstart names a job by its file, JOB.conf (None: an env file)."""
    return path.removesuffix(".conf") if path.endswith(".conf") else None


def upstart_next_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """Stop each removed job (a running job outlives its file), reload, restart the app."""
    steps = [
        f"initctl stop {c.unit}" for c in changes if c.action == "removed" and c.unit is not None
    ]
    steps.append("initctl reload-configuration")
    if any(c.action == "changed" for c in changes):
        steps.append(f"initctl stop {app}")
    steps.append(f"initctl start {app}")
    return steps


def upstart_package_steps(app: str, location: str) -> list[str]:
    """Stopping APP stops every job that starts on starting APP."""
    return [
        f"postinst: initctl reload-configuration && initctl start {app}",
        f"prerm: initctl stop {app}",
        "postrm: initctl reload-configuration",
    ]


def upstart_uninstall_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """A running job outlives its removed file until it stops; stopping APP stops them all."""
    return [f"initctl stop {app}", "initctl reload-configuration"]


FORMAT = Format(
    filters={
        "upstart_quote": upstart_quote,
        "upstart_env": upstart_env,
        "shell_quote": shell_quote,
    },
    render=render_upstart,
    uninstall_steps=upstart_uninstall_steps,
    next_steps=upstart_next_steps,
    unit_of=upstart_unit_of,
    package_steps=upstart_package_steps,
)
