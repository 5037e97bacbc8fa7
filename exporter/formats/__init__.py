"""The format registry: a format is one module here plus (usually) one folder under templates/."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

# what a format renders lives in exporter/rendering.py, which sync imports too; format modules
# import these names from here
from exporter.rendering import (
    File,
    FileChange,
    Install,
    RenderContext,
    Rendering,
    generated_by,
    is_private,
)

if TYPE_CHECKING:
    from exporter.formation import Options
    from exporter.plan import Plan

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

__all__ = [
    "FORMAT_NAMES",
    "File",
    "FileChange",
    "Format",
    "Install",
    "RenderContext",
    "Rendering",
    "get_format",
    "is_private",
    "render",
    "secrets_header",
]


class Format(NamedTuple):
    """A format: what `FORMAT = Format(...)` in exporter/formats/NAME.py declares, registered by
    one line in _MODULES (whose key is the name the command line uses). Only the first three
    fields are required; the rest are hooks with defaults that do nothing."""

    # the Jinja filters its templates (and -t overrides) use: its escaping functions
    filters: Mapping[str, Callable[..., str]]
    # the plan -> every file, by path relative to LOCATION: pure, no I/O
    render: Callable[[Plan, RenderContext], Rendering]
    # (app, a FileChange for every file, absolute LOCATION as installed) -> the commands an
    # operator runs after a write; pure: it reads units from the changes, never paths
    next_steps: Callable[[str, list[FileChange], str], list[str]]
    # --env-mode file applies: .env values go to an env file the configuration names
    uses_env_files: bool = True
    # the configuration names the processes' working directory (root) even when none was
    # given, so --destdir needs it given as installed; False: only a root that was given
    # (kubernetes: the image's own working directory otherwise)
    names_root: bool = True
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
    # (the validated formation.toml as data, {} without one; the command line's Options) ->
    # the format's own settings, which the plan carries as format_settings (kubernetes: its
    # [kubernetes] table, --image, [process.T].service); None: the format has none
    read_settings: Callable[[Mapping[str, Any], Options], object] | None = None
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
    install: Install | None = None,
    bytecode_cache: bool = True,
) -> Rendering:
    """Every file the format needs for the plan, by path relative to LOCATION (the path
    the configuration names, as installed): a function of the plan, the templates and where
    the files will be installed (`install`; the default, installed nowhere, is a preview)."""
    from exporter.errors import ExportError

    fmt = get_format(name)
    install = install or Install()
    if install.location is None and plan.env_files and fmt.uses_env_files:
        raise ExportError(
            "--env-mode file needs a LOCATION: the configuration names its env file by "
            "absolute path"
        )
    if fmt.template_folder is None:
        return fmt.render(plan, RenderContext(None, install.location, install.key_dir))

    import jinja2

    from exporter.templating import template_environment

    templates = template_environment(
        fmt.template_folder or name, fmt.filters, template_dir, bytecode_cache, name
    )
    try:
        return fmt.render(plan, RenderContext(templates, install.location, install.key_dir))
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
    return generated_by(procfile, "values from .env files. Keep it 0600.") + "\n"
