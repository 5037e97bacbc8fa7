"""`procexport check`: validate the inputs and lint the commands for what breaks the process
model (twelve-factor VIII: a process never daemonizes or writes a PID file; the process manager
runs it, in the foreground, and signals it).

`lint_commands` is a pure function of the Procfile's entries; `check_inputs` reads the files as
an export would and adds the first error it meets. The command line only prints the findings.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import NamedTuple

from exporter.errors import ExportError
from exporter.formation import Options
from exporter.procfile import ProcfileEntry

ERROR, WARNING = "error", "warning"

# Programs that leave the process manager's control: they fork into the background, or put the
# command into a session of its own, where a stop signal sent to the group no longer reaches it.
DETACHING_PROGRAMS = {
    "nohup": "keeps running after a hangup and is usually sent to the background",
    "setsid": "moves it out of the process group the manager signals",
    "daemon": "forks it into the background",
    "daemonize": "forks it into the background",
    "start-stop-daemon": "forks it into the background and writes a PID file",
}
# Long options that mean "fork into the background" or "write a PID file" for every server
# that has them (gunicorn, uwsgi, redis-server, celery, mongod, ...).
DAEMON_OPTIONS = ("--daemon", "--daemonize", "--detach", "--fork")
PIDFILE_OPTIONS = ("--pidfile", "--pid-file")
# Short flags that daemonize only for these programs (elsewhere `-d` means other things).
SHORT_DAEMON_FLAGS = {
    "memcached": "-d",
    "puma": "-d",
    "thin": "-d",
    "rails": "-d",
    "sidekiq": "-d",
    "unicorn": "-D",
    "unicorn_rails": "-D",
    "gunicorn": "-D",
    "rackup": "-D",
    "php-fpm": "-D",
    "haproxy": "-D",
}
# Servers that read PORT from the environment themselves when no port is given.
READS_PORT_ITSELF = ("gunicorn", "puma", "rails")
_SEPARATORS = {";", ";;", "&&", "||", "|", "|&", "&", "(", ")", "{", "}"}
_PORT = re.compile(r"\bPORT\b")


class Finding(NamedTuple):
    file: str
    line: int | None
    type: str | None  # the process type, when the finding is about one
    severity: str  # ERROR or WARNING
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        about = f"{self.type}: " if self.type else ""
        return f"{where}: {self.severity}: {about}{self.message}"


def check_inputs(options: Options, cwd: Path) -> list[Finding]:
    """Everything an export would read, validated; then the lint of the Procfile's commands.
    An input error is one finding (the first, as an export would stop there)."""
    from exporter.formation import load_formation
    from exporter.plan import build_plan

    try:
        formation = load_formation(options, cwd)
        build_plan(formation)
    except ExportError as exc:
        return [Finding(exc.file or "procexport", exc.line, None, ERROR, exc.message)]
    entries = tuple(ProcfileEntry(t.name, t.command, t.line) for t in formation.types)
    return lint_commands(entries, formation.procfile)


def lint_commands(entries: tuple[ProcfileEntry, ...], label: str) -> list[Finding]:
    """Warnings about commands that daemonize, detach, write a PID file, or (type `web`) never
    read PORT."""
    findings = []
    for entry in entries:
        for message in _command_problems(entry.name, entry.command):
            findings.append(Finding(label, entry.line, entry.name, WARNING, message))
    return findings


def _command_problems(name: str, command: str) -> list[str]:
    problems = []
    try:
        words = _shell_words(command)
    except ValueError:  # an unbalanced quote: sh would refuse it too
        return ["the command has an unterminated quote"]
    if "&" in words:
        problems.append(
            "'&' sends a command to the background: the process manager loses it; run it in "
            "the foreground (a type of its own for each long-running command)"
        )
    for simple in _simple_commands(words):
        problems += _simple_command_problems(simple)
    if name == "web" and not _PORT.search(command) and not _reads_port_itself(words):
        problems.append(
            "never mentions PORT: pass $PORT to the server (e.g. --port $PORT), or mention "
            "PORT in a trailing `# reads PORT` comment if the app reads it itself"
        )
    return problems


def _shell_words(command: str) -> list[str]:
    """Words and control operators as sh splits them (quotes removed, comments dropped): only
    white space and the operators end a word (`0.0.0.0:8000`, `a#b` are one), and `#` starts a
    comment only at the start of a word."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|(){}<>")
    lexer.commenters = ""
    lexer.wordchars += ":@%+,^!$[]#`\\"
    words = []
    for word in lexer:
        if word.startswith("#"):
            break
        words.append(word)
    return words


def _simple_commands(words: list[str]) -> list[list[str]]:
    commands: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


def _simple_command_problems(words: list[str]) -> list[str]:
    problems = []
    names = [word.rsplit("/", 1)[-1] for word in words]
    program = next((n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", n)), "")
    if program in DETACHING_PROGRAMS:
        problems.append(f"{program!r} {DETACHING_PROGRAMS[program]}: run the command itself")
    for index, word in enumerate(words):
        option, _, value = word.partition("=")
        following = words[index + 1] if index + 1 < len(words) else ""
        if option in DAEMON_OPTIONS and (value or following).lower() not in ("no", "false", "0"):
            problems.append(
                f"{option!r} puts the server in the background: the process manager runs it "
                "in the foreground, leave the option out"
            )
        elif option in PIDFILE_OPTIONS:
            problems.append(
                f"{option!r} writes a PID file: the process manager tracks the process itself"
            )
        elif word.lower() == "daemonize yes" or (
            word == "daemonize" and following.lower() == "yes"
        ):
            problems.append("'daemonize yes' puts the server in the background: use 'no'")
    for position, name in enumerate(names):
        flag = SHORT_DAEMON_FLAGS.get(name)
        if flag is not None and flag in words[position + 1 :]:
            problems.append(
                f"{name} {flag} puts the server in the background: leave {flag} out, the "
                "process manager runs it in the foreground"
            )
            break
    port = _fixed_port(words, names)
    if port is not None:
        problems.append(
            f"listens on the fixed port {port}: every instance would take the same one; use "
            "$PORT, which procexport sets per instance"
        )
    if "nginx" in names and not any("daemon off" in word for word in words):
        problems.append("nginx forks into the background unless run with -g 'daemon off;'")
    return problems


# Options that take the port (or HOST:PORT) to listen on; the short ones only for the servers
# where they mean that (`-p` is a path to mkdir, a port to ssh, ...).
PORT_OPTIONS = ("--port", "--bind", "--listen")
SHORT_PORT_OPTIONS = {
    "-p": ("rails", "puma", "thin", "unicorn", "rackup", "flask", "hypercorn", "php"),
    "-b": ("gunicorn", "puma", "hypercorn", "daphne"),
}
_LITERAL_PORT = re.compile(r"(?:.*:)?(\d{1,5})")


def _fixed_port(words: list[str], names: list[str]) -> str | None:
    """The port number written into a listening option, if one is (not $PORT)."""
    for index, word in enumerate(words):
        option, equals, value = word.partition("=")
        takes_port = option in PORT_OPTIONS or any(
            option == flag and server in names
            for flag, servers in SHORT_PORT_OPTIONS.items()
            for server in servers
        )
        if not takes_port:
            continue
        value = value if equals else (words[index + 1] if index + 1 < len(words) else "")
        literal = _LITERAL_PORT.fullmatch(value)
        if literal:
            return literal.group(1)
    return None


def _reads_port_itself(words: list[str]) -> bool:
    names = {word.rsplit("/", 1)[-1] for word in words}
    return any(server in names for server in READS_PORT_ITSELF)


def exit_status(findings: list[Finding]) -> int:
    """0 clean, 1 warnings only, 2 an error."""
    if any(f.severity == ERROR for f in findings):
        return 2
    return 1 if findings else 0


def findings_text(findings: list[Finding]) -> str:
    return "".join(f"{finding}\n" for finding in findings)


def findings_json(findings: list[Finding]) -> str:
    import json

    return (
        json.dumps(
            {
                "status": exit_status(findings),
                "findings": [finding._asdict() for finding in findings],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
