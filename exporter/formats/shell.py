"""POSIX shell pieces shared by the formats that start processes through a shell command line
(supervisord, Upstart, runit, launchd; kubernetes takes the login flag): the argv of the main
process and the env file it sources."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable

from exporter.dotenv import ENV_NAME
from exporter.errors import ExportError
from exporter.formation import EnvVar
from exporter.formats import File, Rendering, secrets_header
from exporter.plan import Plan

# $0 = the Procfile command, $1 = the env file, $2 = the shell. `set -a` exports what the file
# assigns; the command then runs in a fresh shell exactly as `sh -c COMMAND` would.
SOURCE_THEN_RUN = 'set -a && . "$1" && exec "$2" -c "$0"'
SOURCE_THEN_RUN_LOGIN = 'set -a && . "$1" && exec "$2" -l -c "$0"'


def main_argv(shell: str, command: str, env_file: str | None, login: bool = False) -> list[str]:
    """argv that runs `command` as `SHELL -c COMMAND` (`SHELL -l -c COMMAND` for a login
    shell), after sourcing `env_file` if given."""
    if env_file is None:
        return [shell, *login_flag(login), "-c", command]
    script = SOURCE_THEN_RUN_LOGIN if login else SOURCE_THEN_RUN
    return [shell, "-c", script, command, env_file, shell]


def login_flag(login: bool) -> list[str]:
    """`-l`: the shell reads the login profile (/etc/profile, ~/.profile) before the command."""
    return ["-l"] if login else []


def shell_quote(value: str) -> str:
    """One word for /bin/sh."""
    return shlex.quote(value)


def sh_env_file(header: str, env: Iterable[EnvVar]) -> str:
    """`NAME='value'` lines: single quotes carry every character exactly, line breaks too."""
    return header + "".join(f"{var.name}={shlex.quote(var.value)}\n" for var in env)


def env_file_entries(text: str) -> dict[str, str]:
    """An env file's entries by name, for a diff that names keys and never shows values.
    Split as a POSIX shell splits words, which also finds the entries of a systemd
    EnvironmentFile= as procexport writes it. ValueError when it is not NAME=value lines."""
    entries = {}
    for word in shlex.split(text, comments=True):
        name, equals, _ = word.partition("=")
        if not equals or not ENV_NAME.fullmatch(name):
            raise ValueError("not NAME=value lines")
        entries[name] = word
    return entries


# Variables bash holds read-only: sourcing `UID='0'` fails, and the command never runs.
BASH_READ_ONLY = frozenset({"UID", "EUID", "PPID", "BASHOPTS", "BASH_VERSINFO", "SHELLOPTS"})


def sh_env_files(plan: Plan) -> Rendering:
    """--env-mode file: each env file, 0600, belonging to the account whose shell sources it."""
    if "bash" in os.path.basename(plan.shell):
        for name, process in plan.env_files.items():
            for var in process.secret_env:
                if var.name in BASH_READ_ONLY:
                    raise ExportError(
                        f"{plan.shell} cannot source {var.name} ({var.origin}) from {name}: bash "
                        "holds it read-only, so the command would never start; rename the "
                        "variable or use another shell"
                    )
    return {
        name: File(
            sh_env_file(secrets_header(plan.procfile), process.secret_env),
            mode=0o600,
            owner=(process.type.user, process.type.group),
            entries=env_file_entries,
        )
        for name, process in plan.env_files.items()
    }
