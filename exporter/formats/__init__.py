"""The format registry: a format is one module here plus (usually) one folder under templates/."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import jinja2

    from exporter.plan import Plan, Process

_MODULES = {
    "systemd": "exporter.formats.systemd",
    "upstart": "exporter.formats.upstart",
    "supervisord": "exporter.formats.supervisord",
    "kubernetes": "exporter.formats.kubernetes",
    "systemd-user": "exporter.formats.systemd:USER_FORMAT",
    "launchd": "exporter.formats.launchd",
    "runit": "exporter.formats.runit",
}
FORMAT_NAMES = tuple(_MODULES)


def is_private(mode: int) -> bool:
    """A file others may not read holds secrets: procexport never prints its content, and
    the manifest keeps only a keyed digest of it."""
    return not mode & 0o004


class File(NamedTuple):
    text: str
    mode: int = 0o644
    owner: tuple[str, str | None] | None = None  # (user, group) to give it to, when root
    # a private file's reader: its text (as rendered or as found) -> {key: that entry's text},
    # so that a preview or diff can name keys without values; None: show no keys
    entries: Callable[[str], dict[str, str]] | None = None
    # the unit, job, program, service directory or object the file belongs to, as the next
    # steps name it (APP-web@1.service for a systemd drop-in); None: none (an env file)
    unit: str | None = None

    @property
    def private(self) -> bool:
        return is_private(self.mode)


class FileChange(NamedTuple):
    """What a write (or --uninstall) does to one file, as the next steps see it."""

    action: str  # "created", "changed", "removed" or "unchanged"
    path: str  # relative to LOCATION
    unit: str | None  # File.unit; for a removed file, which no rendering holds, Format.unit_of


class RenderContext(NamedTuple):
    """What a format needs besides the plan."""

    templates: jinja2.Environment | None  # None for a format without templates
    env_dir: str | None  # absolute LOCATION, where env files go; None when previewing
    # where the private key of keyed digests lives (beside the manifest); None: only
    # PROCEXPORT_SECRET_KEY (a preview, or --destdir without --manifest)
    key_dir: str | None = None

    def env_file_path(self, process: Process) -> str | None:
        """The absolute path the configuration names for a process's env file, if it has one."""
        if process.env_file is None or self.env_dir is None:
            return None
        return f"{self.env_dir}/{process.env_file}"


Rendering = dict[str, File]


class Format(NamedTuple):
    """A format: what `FORMAT = Format(...)` in exporter/formats/NAME.py declares, registered by
    one line in _MODULES. Only the first four fields are required; the rest are hooks with
    defaults that do nothing."""

    name: str  # as the command line names it
    # the Jinja filters its templates (and -t overrides) use: its escaping functions
    filters: Mapping[str, Callable[..., str]]
    # the plan -> every file, by path relative to LOCATION: pure, no I/O
    render: Callable[[Plan, RenderContext], Rendering]
    # (app, a FileChange for every file, absolute LOCATION as installed) -> the commands an
    # operator runs after a write; pure: it reads units from the changes, never paths
    next_steps: Callable[[str, list[FileChange], str], list[str]]
    # --env-mode file applies: .env values go to an env file the configuration names
    uses_env_files: bool = True
    # --destdir: (app, installed LOCATION) -> what the package's maintainer scripts must run;
    # None: the next steps of a first install, marked "after install"
    package_steps: Callable[[str, str], list[str]] | None = None
    # (app, a FileChange for every removed file, absolute LOCATION) -> how to stop and forget
    # the app after --uninstall removed its files
    uninstall_steps: Callable[[str, list[FileChange], str], list[str]] = (
        lambda app, changes, location: []
    )
    # a path (relative to LOCATION) this format writes -> the File.unit of the file there: the
    # unit of a file a write removes (the manifest lists paths only). By the manager's own
    # naming rule (systemd and Upstart name a unit or job by its file, runit a service by its
    # directory); None: the file belongs to none
    unit_of: Callable[[str], str | None] = lambda path: None
    # -l DIR is where the processes' logs go: procexport creates it when writing
    uses_log_dir: bool = True
    # templates/<folder>/ to render with: "" for the format's own name, None for a format that
    # writes its files without templates (launchd: plistlib)
    template_folder: str | None = ""
    # (LOCATION, paths a write would remove) -> raises ExportError when removing them now
    # would strand a running process (runit: runsv needs control/t to stop the app); --force
    # skips it
    check_removal: Callable[[Path, list[str]], None] | None = None
    # (the directory written, the rendering) -> raises ExportError when another file there
    # would clash with it (supervisord: a program name another app's include file defines)
    check_neighbours: Callable[[Path, Rendering], None] | None = None
    # without a user set, the processes run as the account that loads the configuration
    # (systemctl --user, a LaunchAgent), not as the default user (the app name)
    runs_as_invoker: bool = False
    # the default user (the app name) is written when no user is set (User=, user=, setuid,
    # chpst -u); False: only a user that was set is (launchd's UserName, Kubernetes' runAsUser)
    writes_default_user: bool = True


def get_format(name: str) -> Format:
    module, _, attribute = _MODULES[name].partition(":")
    return getattr(importlib.import_module(module), attribute or "FORMAT")


def render(
    name: str,
    plan: Plan,
    template_dir: Path | None = None,
    location: Path | None = None,
    bytecode_cache: bool = True,
    key_dir: Path | None = None,
) -> Rendering:
    """Every file the format needs for the plan, by path relative to LOCATION (the path
    the configuration names, as installed)."""
    from exporter.errors import ExportError

    fmt = get_format(name)
    if location is None and plan.env_files and fmt.uses_env_files:
        raise ExportError(
            "--env-mode file needs a LOCATION: the configuration names its env file by "
            "absolute path"
        )
    env_dir = os.path.abspath(location) if location is not None else None
    keys = os.path.abspath(key_dir) if key_dir is not None else None
    if fmt.template_folder is None:
        return fmt.render(plan, RenderContext(None, env_dir, keys))

    import jinja2

    from exporter.templating import template_environment

    templates = template_environment(
        fmt.template_folder or name, fmt.filters, template_dir, bytecode_cache, name
    )
    try:
        return fmt.render(plan, RenderContext(templates, env_dir, keys))
    except jinja2.TemplateSyntaxError as exc:
        raise ExportError(f"template error: {exc.message}", exc.filename, exc.lineno) from None
    except jinja2.TemplateError as exc:  # an override that uses what the context lacks
        raise ExportError(f"template error: {exc.message}") from None
    except UnicodeDecodeError:
        raise ExportError(
            "template error: a template is not valid UTF-8", str(template_dir)
        ) from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        file, line = _template_frame(exc)  # `{{ 1/0 }}` in an override, say
        raise ExportError(f"template error: {type(exc).__name__}: {exc}", file, line) from None


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a traceback (Jinja rewrites its frames)."""
    found: tuple[str | None, int | None] = (None, None)
    trace = exc.__traceback__
    while trace is not None:
        name = trace.tb_frame.f_code.co_filename
        if name.endswith(".j2") or (os.path.sep in name and not name.endswith(".py")):
            found = (name, trace.tb_lineno)
        trace = trace.tb_next
    return found


def secrets_header(procfile: str) -> str:
    """First line of an env file written by --env-mode file."""
    from exporter.templating import comment_text

    return (
        f"# Generated by procexport from {comment_text(procfile)}: values from .env files. "
        "Keep it 0600.\n"
    )
