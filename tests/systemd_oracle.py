"""systemd's own parser as a test oracle: `systemd --test` prints what it loaded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SYSTEMD = "/lib/systemd/systemd"
NOBODY = 65534


@dataclass
class LoadedUnit:
    name: str
    properties: dict[str, list[str]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    exec_start: list[list[str]] = field(default_factory=list)  # argv before $ substitution

    def get(self, key: str) -> str:
        return self.properties[key][0]


def available() -> bool:
    return os.path.exists(SYSTEMD) and shutil.which("setpriv") is not None


def load_units(
    files: dict[str, str], start: str, user: bool = False
) -> tuple[dict[str, LoadedUnit], list[str]]:
    """Let systemd load `start` from a directory holding `files`: the units it parsed, and the
    lines of its log that speak of those files (warnings about our own output).

    systemd --test refuses to run as root and must read the directory as the unprivileged
    user, so the files go into a world-readable directory of their own. With `user`, a user
    manager (`--user`) loads them: it wants a HOME and an XDG_RUNTIME_DIR of its own user.
    """
    unit_dir = Path(tempfile.mkdtemp(prefix="procexport-systemd-"))
    user_dirs = Path(tempfile.mkdtemp(prefix="procexport-systemd-user-")) if user else None
    try:
        unit_dir.chmod(0o755)
        for relative, text in files.items():
            path = unit_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o755)
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
        mode = "--user" if user else "--system"
        command = [SYSTEMD, "--test", mode, f"--unit={start}", "--no-pager"]
        if os.geteuid() == 0:
            command = [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                *command,
            ]
        environment = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/nonexistent",
            "SYSTEMD_UNIT_PATH": f"{unit_dir}:",
            "SYSTEMD_LOG_LEVEL": "warning",
        }
        if user_dirs is not None:
            environment |= _user_manager_dirs(user_dirs)
        # Bytes, not text: universal newlines would turn a CR inside a value into a line break.
        result = subprocess.run(
            command, env=environment, capture_output=True, timeout=60, check=False
        )
        units = parse_dump(result.stdout.decode("utf-8", errors="surrogateescape"))
        log = result.stderr.decode("utf-8", errors="replace")
        if not units:
            raise RuntimeError(f"systemd --test printed no units:\n{log}")
        ours = [line for line in log.split("\n") if str(unit_dir) in line]
        return units, ours
    finally:
        shutil.rmtree(unit_dir)
        if user_dirs is not None:
            shutil.rmtree(user_dirs)


def _user_manager_dirs(base: Path) -> dict[str, str]:
    """HOME and XDG_RUNTIME_DIR for a user manager, owned by the user that runs it."""
    base.chmod(0o755)
    dirs = {"HOME": base / "home", "XDG_RUNTIME_DIR": base / "run"}
    for path in dirs.values():
        path.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)
    return {name: str(path) for name, path in dirs.items()}


def parse_dump(text: str) -> dict[str, LoadedUnit]:
    units: dict[str, LoadedUnit] = {}
    unit: LoadedUnit | None = None
    last_env: str | None = None
    for line in text.split("\n"):
        header = re.fullmatch(r"\t-> Unit (.+):", line)
        if header:
            unit = units.setdefault(header.group(1), LoadedUnit(header.group(1)))
            last_env = None
            continue
        if unit is None:
            continue
        if line.startswith("\t\tEnvironment: "):
            name, _, value = line.removeprefix("\t\tEnvironment: ").partition("=")
            unit.environment[name] = value
            last_env = name
            continue
        if not line.startswith("\t") and last_env is not None:
            unit.environment[last_env] += "\n" + line  # a value holding a newline
            continue
        last_env = None
        command = re.fullmatch(r"\t\t\tCommand Line: (.*)", line)
        if command:
            unit.exec_start.append(unquote_command_line(command.group(1)))
            continue
        prop = re.fullmatch(r"\t\t([^\t:]+): (.*)", line)
        if prop:
            unit.properties.setdefault(prop.group(1), []).append(prop.group(2))
    return units


_DUMP_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "$": "$",
    "`": "`",
}


def unquote_command_line(text: str) -> list[str]:
    """Invert the quoting systemd uses to print an argv: bare words, or double-quoted words
    with backslash before `"\\$` and a backtick, C escapes (\\n, \\a, ...) and octal \\NNN
    for control characters."""
    words: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] == '"':
            word, i = [], i + 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in "01234567":
                    word.append(chr(int(text[i + 1 : i + 4], 8)))
                    i += 4
                elif text[i] == "\\":
                    word.append(_DUMP_ESCAPES[text[i + 1]])
                    i += 2
                else:
                    word.append(text[i])
                    i += 1
            words.append("".join(word))
            i += 1
        else:
            end = text.find(" ", i)
            end = len(text) if end == -1 else end
            words.append(text[i:end])
            i = end
    return words


def substitute_variables(argv: list[str], env: dict[str, str]) -> list[str]:
    """What systemd does to ExecStart's argv at exec time: `$$` -> `$`, `${X}` inside a word,
    `$X` as a whole word split on white space."""
    result: list[str] = []
    for word in argv:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            result.extend(env.get(whole.group(1), "").split())
            continue
        out, i = [], 0
        while i < len(word):
            if word.startswith("$$", i):
                out.append("$")
                i += 2
            elif word.startswith("${", i) and "}" in word[i:]:
                end = word.index("}", i)
                out.append(env.get(word[i + 2 : end], ""))
                i = end + 1
            else:
                out.append(word[i])
                i += 1
        result.append("".join(out))
    return result
