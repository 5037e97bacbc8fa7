"""Resolve the inputs (options, formation.toml, Procfile, .env files) into one Formation.

Precedence: [process.T] settings beat app-wide ones; the command line beats the file; the
file beats the defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from exporter.dotenv import DotenvEntry, parse_dotenv
from exporter.errors import ExportError
from exporter.procfile import ProcfileEntry, parse_procfile
from exporter.textfile import read_text
from exporter.toml_lines import key_line

APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ACCOUNT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10}")
SHELL_PATH = re.compile(r"/[A-Za-z0-9/._+-]*")
ENV_MODES = ("inline", "file")
DEFAULTS = {
    "port": 5000,
    "timeout": 30,
    "stop_signal": "TERM",
    "shell": "/bin/sh",
    "restart_delay": 5,
}
# The process type that runs once per start of the app, before the others (Heroku's release
# phase); it stands outside the formation.
RELEASE = "release"
MAX_TIMEOUT = 2**31 - 1  # seconds: fits every format (systemd usec, C ints, Kubernetes int64)
MAX_COUNT = 10000  # instances of one type


class Options(NamedTuple):
    """What the command line said; None or empty means 'not given'."""

    procfile: str | None = None
    formation_file: str | None = None
    formation: tuple[str, ...] = ()
    app: str | None = None
    user: str | None = None
    root: str | None = None
    log: str | None = None
    port: int | None = None
    env_files: tuple[str, ...] = ()
    timeout: int | None = None
    env_mode: str | None = None
    image: str | None = None
    group: str | None = None
    shell: str | None = None
    login: bool | None = None  # --login / --no-login
    # the format writes the default user (the app name) when none is set; systemd-user,
    # launchd and kubernetes do not, so an app name that is no user name is fine there
    default_user: bool = True


class EnvVar(NamedTuple):
    name: str
    value: str
    origin: str  # where it was set, for error messages: ".env:3", "formation.toml: env.X"
    secret: bool = False  # came from a .env file: treat as a credential


class Setting(NamedTuple):
    """Where an explicit setting was made: for a format that cannot carry it."""

    key: str  # as the user wrote it: "--user", "user", "process.web.group"
    file: str | None = None
    line: int | None = None


class ProcessType(NamedTuple):
    name: str
    command: str
    count: int
    user: str
    group: str | None
    port: int  # port of instance 1
    timeout: int
    stop_signal: str
    env: tuple[EnvVar, ...]  # merged, lowest to highest, one entry per name, no PORT/PS
    restart_delay: int = DEFAULTS["restart_delay"]  # seconds from a crash to the restart
    login: bool = False  # run as `SHELL -l -c COMMAND`: the login profile sets PATH first
    line: int = 0  # where the Procfile defines it
    user_setting: Setting | None = None  # where the user was set; None: the default (app)
    group_setting: Setting | None = None  # where the group was set


class Formation(NamedTuple):
    app: str
    procfile: str  # as the user named it, for the generated-by header
    root: str
    shell: str
    log: str | None
    env_mode: str
    types: tuple[ProcessType, ...] = ()
    root_given: bool = False  # a root was set (not the Procfile's directory, the default)
    # what the format's read_settings hook made of its own settings (kubernetes: the
    # [kubernetes] table, --image, [process.T].service); None without a hook
    format_settings: object = None


class SourceFile(NamedTuple):
    """formation.toml as validated: every key present (None when unset); empty without one."""

    data: dict[str, Any]
    label: str | None  # as the user named it; None: no formation file
    text: str
    directory: Path  # what its relative paths are relative to (the cwd without a file)

    def line(self, *key: str) -> int | None:
        """The line that sets the key (its parts: "process", "web", "port"), for messages."""
        return key_line(self.text, key)


# What a format reads from the validated formation.toml (and the command line) for itself.
ReadSettings = Callable[[Mapping[str, Any], Options], object]


def load_formation(
    options: Options, cwd: Path, read_settings: ReadSettings | None = None
) -> Formation:
    """Read every input file that the options and defaults name, and resolve them: locate
    each file, parse it, merge each setting by precedence, validate the result."""
    # locate and parse: formation.toml, the Procfile, the .env files
    source = _read_formation_file(options.formation_file, cwd)
    procfile_label, procfile_path = _locate_procfile(options, source, cwd)
    entries = parse_procfile(read_text(procfile_path, procfile_label), procfile_label)
    procfile_dir = Path(os.path.abspath(procfile_path)).parent
    dotenv = _read_dotenv(_env_files(options, source, cwd, procfile_dir))
    file = source.data

    # merge each setting by precedence, and validate what the file or the defaults gave
    names = [entry.name for entry in entries]
    counts = _counts(source, options.formation, names)
    _check_process_tables(source, names)
    root = (
        _absolute(options.root, cwd)
        or _absolute(file.get("root"), source.directory)
        or str(procfile_dir)
    )
    app = check_app_name(options.app or file.get("app") or os.path.basename(root.rstrip("/")))
    shell = _shell(options, source)
    env_mode = options.env_mode or file.get("env_mode") or "inline"
    base_port = _base_port(options, file, dotenv)
    app_env = {k: EnvVar(k, v, f"{source.label}: env.{k}") for k, v in file.get("env", {}).items()}
    types = tuple(
        _process_type(entry, index, counts, options, source, app, dotenv | app_env, base_port)
        for index, entry in enumerate(entries)
    )
    log = _absolute(options.log, cwd) or _absolute(file.get("log"), source.directory)
    return Formation(
        app,
        procfile_label,
        root,
        shell,
        log,
        env_mode,
        types,
        root_given=bool(options.root or file.get("root")),
        format_settings=read_settings(file, options) if read_settings is not None else None,
    )


def _read_formation_file(given: str | None, cwd: Path) -> SourceFile:
    """-F FILE, else ./formation.toml when there is one: validated."""
    label = given
    # a default input that is there but no regular file (a FIFO, say) is refused, not skipped
    if label is None and os.path.lexists(cwd / "formation.toml"):
        label = "formation.toml"
    if label is None:
        return SourceFile({}, None, "", cwd)
    # pydantic is imported only when there is a file to validate: it is most of the start-up
    # time of an export without one.
    from exporter.formation_file import load_formation_file

    path = cwd / label
    data, text = load_formation_file(path, label)
    return SourceFile(data, label, text, path.parent)


def _locate_procfile(options: Options, source: SourceFile, cwd: Path) -> tuple[str, Path]:
    """-f PATH, else the file's `procfile` (relative to the file), else ./Procfile."""
    if options.procfile is not None:
        return options.procfile, cwd / options.procfile
    given = source.data.get("procfile")
    if given is not None:
        return os.path.normpath(_label(source.label, given)), source.directory / given
    return "Procfile", cwd / "Procfile"


def _read_dotenv(env_files: list[tuple[str, Path]]) -> dict[str, EnvVar]:
    """Every .env file in order, one variable per name: a later file wins."""
    dotenv: dict[str, EnvVar] = {}
    for label, path in env_files:
        for entry in parse_dotenv(read_text(path, label), label):
            dotenv[entry.name] = _dotenv_var(entry, label)
    return dotenv


def _check_process_tables(source: SourceFile, names: list[str]) -> None:
    for name in source.data.get("process", {}):
        if name not in names:
            raise ExportError(
                f"process.{name}: the Procfile has no process type {name!r}",
                source.label,
                source.line("process", name),
            )


def _shell(options: Options, source: SourceFile) -> str:
    shell = options.shell or source.data.get("shell") or DEFAULTS["shell"]
    if not options.shell and not SHELL_PATH.fullmatch(shell):  # --shell: checked already
        raise ExportError(
            f"shell: must be an absolute path of letters, digits and '/._+-', not {shell!r}",
            source.label,
            source.line("shell"),
        )
    return shell


def check_app_name(app: str) -> str:
    """The app name, whether --app, `app` or the root directory's name gave it."""
    if not APP_NAME.fullmatch(app):
        raise ExportError(
            f"invalid app name {app!r}: use 1-64 letters, digits, '_', '-' or '.', starting "
            "with a letter or digit (set it with --app or `app` in formation.toml)"
        )
    return app


def _process_type(
    entry: ProcfileEntry,
    index: int,
    counts: dict[str, int],
    options: Options,
    source: SourceFile,
    app: str,
    inherited_env: dict[str, EnvVar],
    base_port: int,
) -> ProcessType:
    """One Procfile entry with its settings: [process.T], then the command line, then the
    file's app-wide value, then the default."""
    file = source.data
    settings = file.get("process", {}).get(entry.name) or {}
    type_env = inherited_env | {
        k: EnvVar(k, v, f"{source.label}: process.{entry.name}.env.{k}")
        for k, v in (settings.get("env") or {}).items()
    }
    user_given = settings.get("user") or options.user or file.get("user")
    user = user_given or app
    group = settings.get("group") or options.group or file.get("group")
    if user_given is None and options.default_user and not ACCOUNT_NAME.fullmatch(user):
        raise ExportError(
            f"the app name {app!r} is not a valid user name, and the user defaults to the "
            "app name: set the user with --user (or `user` in formation.toml), or another "
            "app name with --app"
        )
    for what, account in (("user", user_given), ("group", group)):
        if account is not None:
            check_account(what, account)
    return ProcessType(
        name=entry.name,
        command=entry.command,
        count=counts[entry.name],
        user=user,
        group=group,
        port=settings.get("port") or type_port(base_port, index),
        timeout=settings.get("timeout")
        or options.timeout
        or file.get("timeout")
        or DEFAULTS["timeout"],
        stop_signal=settings.get("stop_signal")
        or file.get("stop_signal")
        or DEFAULTS["stop_signal"],
        env=tuple(v for k, v in type_env.items() if k not in ("PORT", "PS")),
        restart_delay=settings.get("restart_delay")
        or file.get("restart_delay")
        or DEFAULTS["restart_delay"],
        login=_first_set(settings.get("login"), options.login, file.get("login"), False),
        line=entry.line,
        user_setting=_account_setting("user", entry.name, settings, options.user, source),
        group_setting=_account_setting("group", entry.name, settings, options.group, source),
    )


def check_account(what: str, name: str) -> None:
    """A user or group name (`what`) a process manager accepts, or a numeric id."""
    if not ACCOUNT_NAME.fullmatch(name):
        raise ExportError(f"invalid {what} name {name!r}")


def _account_setting(
    what: str,
    type_name: str,
    settings: dict[str, Any],
    option: str | None,
    source: SourceFile,
) -> Setting | None:
    """Where the user or group of a type was set, by the same precedence as its value."""
    if settings.get(what):
        key = ("process", type_name, what)
        return Setting(".".join(key), source.label, source.line(*key))
    if option:
        return Setting(f"--{what}")
    if source.data.get(what):
        return Setting(what, source.label, source.line(what))
    return None


def parse_formation_specs(specs: tuple[str, ...]) -> dict[str, int]:
    """`web=3,worker=2` (repeatable) as counts per type; a later entry wins."""
    counts: dict[str, int] = {}
    for spec in specs:
        for item in spec.split(","):
            name, equals, count = (part.strip() for part in item.partition("="))
            if not equals or not name:
                raise ExportError(f"--formation {item.strip()!r}: expected TYPE=COUNT")
            if not re.fullmatch(r"[0-9]+", count):
                raise ExportError(
                    f"--formation {item.strip()!r}: count must be a whole number >= 0"
                )
            if int(count) > MAX_COUNT:
                raise ExportError(
                    f"--formation {item.strip()!r}: at most {MAX_COUNT} instances per type"
                )
            counts[name] = int(count)
    return counts


def _counts(source: SourceFile, specs: tuple[str, ...], names: list[str]) -> dict[str, int]:
    """Instances per type: -m beats [formation]; `all` fills in the types not named."""
    file = source.data
    for name in file.get("formation", {}):
        if name != "all" and name not in names:
            raise ExportError(
                f"formation.{name}: the Procfile has no process type {name!r}",
                source.label,
                source.line("formation", name),
            )
    from_options = parse_formation_specs(specs)
    for name in from_options:
        if name != "all" and name not in names:
            raise ExportError(f"--formation {name}: the Procfile has no process type {name!r}")
    merged = file.get("formation", {}) | from_options
    if not set(merged) - {RELEASE}:  # naming only the release phase is no formation
        counts = dict.fromkeys(names, 1)
    else:
        fill = merged.get("all", 0)
        counts = {name: merged.get(name, fill) for name in names}
    if RELEASE in names:
        counts[RELEASE] = _release_count(source, from_options)
    return counts


def _release_count(source: SourceFile, from_options: dict[str, int]) -> int:
    """The release phase runs once or not at all: `all` and other types' counts leave it
    alone, and only `release = 0` (in the file or with -m) turns it off."""
    if RELEASE in from_options:
        count = from_options[RELEASE]
        if count > 1:
            raise ExportError(
                f"--formation release={count}: the release phase runs once; use 1, or 0 to skip it"
            )
        return count
    count = source.data.get("formation", {}).get(RELEASE, 1)
    if count > 1:
        raise ExportError(
            "formation.release: the release phase runs once; use 1, or 0 to skip it",
            source.label,
            source.line("formation", RELEASE),
        )
    return count


def _env_files(
    options: Options, source: SourceFile, cwd: Path, procfile_dir: Path
) -> list[tuple[str, Path]]:
    """-e FILES, else the file's `env_files` (relative to the file), else the Procfile's
    .env when there is one: (label, path) each."""
    if options.env_files:
        return [(label, cwd / label) for label in env_file_labels(options.env_files)]
    if source.data.get("env_files") is not None:
        return [
            (_label(source.label, name), source.directory / name)
            for name in source.data["env_files"]
        ]
    default = procfile_dir / ".env"
    if os.path.lexists(default):
        return [
            (
                os.path.relpath(default, cwd) if default.is_relative_to(cwd) else str(default),
                default,
            )
        ]
    return []


def env_file_labels(given: tuple[str, ...]) -> list[str]:
    """-e FILE (repeatable, or a,b) as the files named, in order."""
    labels = [name for each in given for name in each.split(",")]
    if "" in labels:
        raise ExportError(f"--env {','.join(given)!r}: an empty file name")
    return labels


def _dotenv_var(entry: DotenvEntry, label: str) -> EnvVar:
    return EnvVar(entry.name, entry.value, f"{label}:{entry.line}", secret=True)


def _base_port(options: Options, file: dict[str, Any], dotenv: dict[str, EnvVar]) -> int:
    if options.port is not None:
        return options.port
    if file.get("port") is not None:
        return file.get("port")
    if "PORT" in dotenv:
        var = dotenv["PORT"]
        if not re.fullmatch(r"[0-9]{1,5}", var.value) or not 1 <= int(var.value) <= 65535:
            file_name, _, line = var.origin.rpartition(":")
            raise ExportError("PORT: not a port number (1-65535)", file_name, int(line))
        return int(var.value)
    return DEFAULTS["port"]


def _first_set(*values: bool | None) -> bool:
    return next(value for value in values if value is not None)


def _label(file_label: str | None, relative: str) -> str:
    """How to name a path from formation.toml in messages: relative to the current directory."""
    if file_label is None or os.path.isabs(relative):
        return relative
    return os.path.normpath(os.path.join(os.path.dirname(file_label), relative))


def _absolute(path: str | None, base: Path) -> str | None:
    if path is None:
        return None
    return os.path.normpath(os.path.join(os.path.abspath(base), path))


def type_port(base_port: int, index: int) -> int:
    """The port of instance 1 of the type on Procfile line `index` (0-based) when the type sets
    none: the base port + 100 per line. Each instance's own is plan.instance_port."""
    return base_port + 100 * index
