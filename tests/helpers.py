"""Plain helpers the tests share (conftest.py keeps only fixtures and pytest hooks):
`from helpers import ...` works because pytest puts tests/ on sys.path (rootdir conftest,
prepend import mode), as it does for the harnesses and oracles beside it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
PROBE = Path(__file__).resolve().parent / "probe.py"
PROBE_COMMAND = f"{sys.executable} {PROBE}"


@dataclass
class Run:
    """What one run of procexport gave: its exit status, stdout and stderr."""

    status: int
    stdout: str
    stderr: str

    def __iter__(self):
        """`status, stdout, stderr = run_in_process(...)`."""
        return iter((self.status, self.stdout, self.stderr))


def run_in_process(*args: str, cwd: Path) -> Run:
    """The CLI in-process from `cwd` (the previous directory restored), for code that cannot
    take the `procexport` fixture: a Hypothesis body runs many times in one test."""
    import contextlib
    import io
    import os

    from exporter.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(previous)
    return Run(status, out.getvalue(), err.getvalue())


@dataclass
class Exported(Run):
    """A Run of an export, with the LOCATION it wrote to."""

    out: Path | None = None

    @property
    def files(self) -> dict[str, str]:
        """What the export wrote (read_tree of LOCATION), once it is known to have succeeded."""
        assert self.status == 0, self.stderr
        assert self.out is not None, "an export to stdout wrote no files"
        return read_tree(self.out)


def export(
    run,
    app: Path,
    fmt: str,
    out: Path | None,
    *args: str,
    quiet: bool = True,
    user: str | None = None,
    image: str | None = None,
) -> Exported:
    """The one way tests run an export: `procexport FMT [OUT] [-q] [--image I] [-u U] ARGS`
    from the app directory `app`, with `run`: the `procexport` fixture (in-process),
    `run_installed` (the command in a subprocess) or `run_in_process`. `out` None prints to
    stdout. The exit status is for the caller to check; `.files` checks it is 0 first."""
    argv = [fmt, *([str(out)] if out is not None else [])]
    argv += ["-q"] if quiet else []
    argv += ["--image", image] if image is not None else []
    argv += ["-u", user] if user is not None else []
    result = run(*argv, *args, cwd=app)
    return Exported(result.status, result.stdout, result.stderr, out)


def write_app(
    directory: Path,
    procfile: str,
    formation: dict | None = None,
    dotenv: str | None = None,
) -> Path:
    """An app directory with a Procfile, and optionally formation.toml and .env."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Procfile").write_text(procfile, encoding="utf-8")
    if formation is not None:
        (directory / "formation.toml").write_text(tomli_w.dumps(formation), encoding="utf-8")
    if dotenv is not None:
        (directory / ".env").write_text(dotenv, encoding="utf-8")
    return directory


def dotenv_line(name: str, value: str) -> str:
    """A .env line that our documented syntax reads back as exactly `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'{name}="{escaped.replace(chr(10), chr(92) + "n")}"\n'


def probe_app(tmp_path: Path, commands: dict[str, str], values: dict[str, str], **formation):
    """An app `probeapp` whose commands run the probe: each instance records into
    tmp_path/probe-PS.jsonl and, with --wait, runs until a stop signal."""
    procfile = "".join(f"{name}: {command}\n" for name, command in commands.items())
    dotenv = "".join(dotenv_line(name, value) for name, value in values.items())
    formation.setdefault("env", {})
    formation["env"] |= {"PROBE_WAIT": "1", "PROBE_OUT": str(tmp_path / "probe-{PS}.jsonl")}
    return write_app(tmp_path / "probeapp", procfile, formation, dotenv)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under a directory with its content and mode: to prove nothing changed."""
    return {
        str(path.relative_to(directory)): (
            path.read_bytes() if path.is_file() else b"<dir>",
            path.stat().st_mode,
        )
        for path in sorted(directory.rglob("*"))
    }


def read_tree(directory: Path, manifests: bool = False) -> dict[str, str]:
    """Every file under a directory by relative path; procexport's manifests only if asked
    (never its lock file, which is empty and only keeps two exports apart)."""
    return {
        str(path.relative_to(directory)): path.read_bytes().decode("utf-8")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
        and path.name != ".procexport.lock"
        and (manifests or not path.name.startswith(".procexport."))
    }


# Commands that every peer exporter mangles somewhere. Each runs the probe; the last probe of
# each command has --wait, so that under a real process manager it keeps running.
NASTY_COMMANDS = {
    "quotes": f"""{PROBE_COMMAND} 'single quoted' "double quoted" 'it'"'"'s' "say \\"hi\\"" ''"""
    " --wait",
    "percent": f"{PROBE_COMMAND} 100% %i %n %% %%% %z % --wait",
    "dollar": f"""{PROBE_COMMAND} $HOME ${{PORT}} "$PORT" '$PORT' \\$PORT $ end$ --wait""",
    "backslash": f"""{PROBE_COMMAND} back\\\\slash 'a\\b' "c\\\\d" \\x41 'end\\' --wait""",
    "semicolon": f"{PROBE_COMMAND} first; {PROBE_COMMAND} second;{PROBE_COMMAND} third --wait",
    "hash": f"{PROBE_COMMAND} x --wait #comment ;also",
    "unicode": f"{PROBE_COMMAND} ünïcødé ☃ 日本語 \u200b 'é' --wait",
    "cd": f"cd / && {PROBE_COMMAND} cwd --wait",
    "assignment": f"FOO=1 BAR='a b' {PROBE_COMMAND} assigned --wait",
    "tab": f"{PROBE_COMMAND} 'tab\there'\tbare --wait",
    "subshell": f"{PROBE_COMMAND} `echo hi` $(echo there) \"$(printf '%s' 'x y')\" --wait",
    "exec": f"""exec {PROBE_COMMAND} "\\"quoted\\"" 'it'\\''s' --wait""",
    "specifier_words": f"{PROBE_COMMAND} %h %u %% %%i {{}} [] * ? --wait",
}

# Environment values that every peer exporter mangles somewhere.
NASTY_VALUES = {
    "PLAIN": "value",
    "PERCENT": "100%",
    "SPECIFIERS": "%i %n %% %z",
    "DOLLAR": "$HOME ${PORT} $$ $",
    "SINGLE": "it's",
    "DOUBLE": 'say "hi"',
    "BOTH": """it's "both" """,
    "BACKSLASH": "a\\b\\\\c\\",
    "NEWLINE": "line one\nline two",
    "TAB": "a\tb",
    "HASH": "a #b ;c # d",
    "UNICODE": "ünïcødé ☃ 日本語",
    "EMPTY": "",
    "SPACES": "  lead and trail  ",
    "EQUALS": "a=b=c",
    "COMMA": "a,b=c,d",
    "URL": "postgres://u:p%40ss@host:5432/db?sslmode=require",
    "CONTROL": "bell\x07 escape\x1b[0m delete\x7f vt\x0b ff\x0c",
    "CR": "carriage\rreturn",
}

# The formats that hand processes to a process manager on one machine (not kubernetes).
INIT_FORMATS = ("systemd", "supervisord", "upstart")


# Variables a process manager adds on its own (supervisord, Upstart): not ours to compare.
MANAGER_VARIABLES = ("SUPERVISOR_", "UPSTART_")


def raw_records(path: Path) -> list[dict]:
    """Everything the probe recorded in a file, in order (none if it never ran)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def probe_records(path: Path) -> list[dict]:
    """The probe's records without what differs between any two runs: pids, and the
    variables a process manager adds."""
    records = []
    for record in raw_records(path):
        record = {k: v for k, v in record.items() if k != "pid"}
        if "env" in record:
            record["env"] = {
                k: v for k, v in record["env"].items() if not k.startswith(MANAGER_VARIABLES)
            }
        records.append(record)
    return records


def wait_for_records(path: Path, count: int, timeout: float = 60) -> list[dict]:
    """The probe's raw records once there are at least `count`: a process manager reports a
    program as running before the program has necessarily written anything."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = raw_records(path)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{path}: expected {count} records, got {raw_records(path)}")


def wait_for_probe_records(path: Path, count: int, timeout: float = 60) -> list[dict]:
    """probe_records(path) once the probe has written at least `count` records."""
    wait_for_records(path, count, timeout)
    return probe_records(path)


def run_probe(argv: list[str], env: dict[str, str], cwd: Path | str, out: Path) -> list[dict]:
    """Run argv (which runs the probe) with exactly `env`; what the probe recorded."""
    out.unlink(missing_ok=True)
    subprocess.run(argv, env=env | {"PROBE_OUT": str(out)}, cwd=cwd, check=True, timeout=30)
    return probe_records(out)


def sh_c_reference(command: str, env: dict[str, str], cwd: Path | str, out: Path) -> list[dict]:
    """What `sh -c COMMAND` with the intended environment gives the probe: the reference
    every format is held to."""
    return run_probe(["sh", "-c", command], env, cwd, out)


def run_on_a_terminal(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """The command (`python3 -m exporter`, importing this checkout) with its stdout on a
    pseudo-terminal in raw mode (so stdout is the bytes written, no CR added), stderr in a
    file, NO_COLOR unset unless `env` sets it. Read with a bounded deadline; the child is
    killed by its PID if it outlives it."""
    import os
    import pty
    import select
    import signal
    import tempfile
    import tty

    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment |= {"PYTHONPATH": str(REPO)} | (env or {})
    master, slave = pty.openpty()
    tty.setraw(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", *args],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=stderr,
        )
        os.close(slave)
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every end of the terminal's slave side is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            status = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        finally:
            os.close(master)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        stderr.seek(0)
        return Run(status, b"".join(chunks).decode(), stderr.read().decode())


def expected_port(index: int, number: int = 1, base: int = 5000) -> int:
    """The port design.md gives instance `number` of the type on Procfile line `index`
    (0-based) when no port is set for it: the base port, + 100 per line, + 1 per instance
    after the first."""
    return base + 100 * index + number - 1
