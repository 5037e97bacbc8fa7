"""Every check of an export's options on their own, in one place: what the command line said
is refused here, once, before any file is read. Where formation.toml can give the same setting
(an app, user or group name, counts), the rule is formation.py's function, which checks the
file's value too when it merges them."""

from __future__ import annotations

from pathlib import Path

from exporter.errors import ExportError
from exporter.formation import (
    APP_NAME,
    ENV_MODES,
    MAX_TIMEOUT,
    SHELL_PATH,
    Options,
    check_account,
    check_app_name,
    env_file_labels,
    parse_formation_specs,
)
from exporter.formats import FORMAT_NAMES, get_format

COLOR_CHOICES = ("auto", "always", "never")


def check_export_options(
    format_name: str,
    location: str | None,
    options: Options,
    *,
    template: str | None = None,
    dry_run: bool = False,
    destdir: str | None = None,
    manifest: str | None = None,
    uninstall: bool = False,
    color: str = "auto",
) -> None:
    """Raise ExportError for the first option, or combination of options, that cannot be
    right; the values are the command line's, before LOCATION and DIRs become paths."""
    if options.timeout is not None and options.timeout < 1:
        raise ExportError(f"--timeout {options.timeout}: must be a whole number of seconds >= 1")
    if options.timeout is not None and options.timeout > MAX_TIMEOUT:
        raise ExportError(f"--timeout {options.timeout}: at most {MAX_TIMEOUT} seconds")
    _refuse_empty(
        ("LOCATION", location),
        ("--procfile", options.procfile),
        ("--formation-file", options.formation_file),
        ("--app", options.app),
        ("--user", options.user),
        ("--group", options.group),
        ("--shell", options.shell),
        ("--root", options.root),
        ("--log", options.log),
        ("--template", template),
        ("--env-mode", options.env_mode),
        ("--image", options.image),
        ("--destdir", destdir),
        ("--manifest", manifest),
        *(("--env", name) for name in options.env_files),
    )
    if color not in COLOR_CHOICES:
        raise ExportError(f"--color {color!r}: use auto, always or never")
    if format_name not in FORMAT_NAMES:
        raise ExportError(f"unknown format {format_name!r}: use one of {', '.join(FORMAT_NAMES)}")
    if dry_run and location is None:
        raise ExportError("--dry-run needs a LOCATION to compare with")
    for option, value in (("--destdir", destdir), ("--manifest", manifest)):
        if value is not None and location is None:
            raise ExportError(f"{option} needs a LOCATION: the directory the files go to")
    if template is not None and not Path(template).is_dir():
        raise ExportError("--template: no such directory", str(Path(template)))
    if template is not None and get_format(format_name).template_folder is None:
        raise ExportError(
            f"--template: the {format_name} format has no templates to override (its files are "
            "written as data, escaping included)"
        )
    if uninstall:
        if location is None:
            raise ExportError("--uninstall needs a LOCATION to remove the app from")
        if destdir is not None:
            raise ExportError("--uninstall removes an installed app: it takes no --destdir")
        if options.app is not None and not APP_NAME.fullmatch(options.app):
            raise ExportError(f"invalid app name {options.app!r}")  # it names the manifest
    if options.shell is not None and not SHELL_PATH.fullmatch(options.shell):
        raise ExportError(
            "--shell: must be an absolute path of letters, digits and '/._+-', not "
            f"{options.shell!r}"
        )
    if options.env_mode is not None and options.env_mode not in ENV_MODES:
        raise ExportError(f"--env-mode {options.env_mode!r}: use {' or '.join(ENV_MODES)}")
    if options.port is not None and not 1 <= options.port <= 65535:
        raise ExportError(f"--port {options.port}: must be between 1 and 65535")
    if options.app is not None:
        check_app_name(options.app)
    for what, name in (("user", options.user), ("group", options.group)):
        if name is not None:
            check_account(what, name)
    parse_formation_specs(options.formation)  # its syntax; the types need the Procfile
    env_file_labels(options.env_files)


def _refuse_empty(*given: tuple[str, str | None]) -> None:
    """An option given as '' (an unset variable in a script, say) is an error, not a default."""
    for name, value in given:
        if value == "":
            raise ExportError(f"{name} is empty: give a value, or leave it out for the default")
