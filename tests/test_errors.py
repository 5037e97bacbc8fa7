"""The error catalogue: one case per class of bad input. Each exits 2 with one line,
`procexport: error: FILE:LINE: what is wrong` where there is a file, writes nothing, and is
listed in README.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import REPO, snapshot, write_app

PROCFILE = "web: serve\nworker: work\n"

# (id, files to write over the default app, extra args, exact stderr after "procexport: error: ")
CATALOGUE = [
    ("procfile-missing", {"Procfile": None}, [], "Procfile: no such file"),
    (
        "procfile-no-colon",
        {"Procfile": "web: a\nworker b\n"},
        [],
        "Procfile:2: expected 'name: command', found no colon",
    ),
    (
        "procfile-bad-name",
        {"Procfile": "we b: a\n"},
        [],
        "Procfile:1: invalid process type name 'we b': use letters, digits, '_' and '-'",
    ),
    (
        "procfile-empty-command",
        {"Procfile": "web:\n"},
        [],
        "Procfile:1: process type 'web' has an empty command",
    ),
    (
        "procfile-duplicate",
        {"Procfile": "web: a\nweb: b\n"},
        [],
        "Procfile:2: duplicate process type 'web' (first defined on line 1)",
    ),
    ("procfile-empty", {"Procfile": "# nothing\n"}, [], "Procfile: no process types defined"),
    (
        "procfile-not-utf8",
        {"Procfile": b"web: a\nworker: \xff\n"},
        [],
        "Procfile:2: not valid UTF-8",
    ),
    ("dotenv-no-equals", {".env": "A=1\nB\n"}, [], ".env:2: expected KEY=value"),
    (
        "dotenv-bad-name",
        {".env": "1A=x\n"},
        [],
        ".env:1: invalid variable name: use letters, digits and '_', not starting with a digit",
    ),
    (
        "dotenv-open-quote",
        {".env": "A='x\n"},
        [],
        ".env:1: A: unterminated single quote",
    ),
    (
        "dotenv-open-double-quote",
        {".env": 'A="x\n'},
        [],
        ".env:1: A: unterminated double quote",
    ),
    (
        "dotenv-after-quote",
        {".env": "A='x'y\n"},
        [],
        ".env:1: A: unexpected text after the closing quote",
    ),
    ("dotenv-bad-port", {".env": "PORT=web\n"}, [], ".env:1: PORT: not a port number (1-65535)"),
    ("dotenv-missing", {}, ["-e", "prod.env"], "prod.env: no such file"),
    (
        "toml-syntax",
        {"formation.toml": "app = 'x'\nport = \n"},
        [],
        "formation.toml:2: Invalid value",
    ),
    (
        "toml-unknown-key",
        {"formation.toml": "app = 'x'\nprots = 1\n"},
        [],
        "formation.toml:2: prots: unknown key",
    ),
    (
        "toml-wrong-type",
        {"formation.toml": "timeout = '30'\n"},
        [],
        "formation.toml:1: timeout: Input should be a valid integer",
    ),
    (
        "toml-negative-count",
        {"formation.toml": "[formation]\nweb = -1\n"},
        [],
        "formation.toml:2: formation.web: Input should be greater than or equal to 0",
    ),
    (
        "toml-port-range",
        {"formation.toml": "port = 0\n"},
        [],
        "formation.toml:1: port: Input should be greater than or equal to 1",
    ),
    (
        "toml-unknown-type",
        {"formation.toml": "[formation]\nclock = 1\n"},
        [],
        "formation.toml:2: formation.clock: the Procfile has no process type 'clock'",
    ),
    (
        "toml-unknown-process",
        {"formation.toml": "[process.clock]\ntimeout = 5\n"},
        [],
        "formation.toml:1: process.clock: the Procfile has no process type 'clock'",
    ),
    (
        "toml-stop-signal",
        {"formation.toml": "[process.web]\nstop_signal = 'STOP'\n"},
        [],
        "formation.toml:2: process.web.stop_signal: unknown stop signal 'STOP'; use one of TERM, "
        "INT, QUIT, HUP, KILL, USR1, USR2, WINCH",
    ),
    (
        "toml-env-mode",
        {"formation.toml": "env_mode = 'secret'\n"},
        [],
        "formation.toml:1: env_mode: Input should be 'inline' or 'file'",
    ),
    (
        "toml-restart-delay",
        {"formation.toml": "restart_delay = 0\n"},
        [],
        "formation.toml:1: restart_delay: Input should be greater than or equal to 1",
    ),
    (
        "toml-restart-delay-max",
        {"formation.toml": "[process.web]\nrestart_delay = 7200\n"},
        [],
        "formation.toml:2: process.web.restart_delay: Input should be less than or equal to 3600",
    ),
    (
        "toml-release-count",
        {
            "Procfile": "web: serve\nrelease: migrate\n",
            "formation.toml": "[formation]\nrelease = 2\n",
        },
        [],
        "formation.toml:2: formation.release: the release phase runs once; use 1, or 0 to skip it",
    ),
    (
        "formation-release-count",
        {"Procfile": "web: serve\nrelease: migrate\n"},
        ["-m", "release=3"],
        "--formation release=3: the release phase runs once; use 1, or 0 to skip it",
    ),
    ("formation-syntax", {}, ["-m", "web"], "--formation 'web': expected TYPE=COUNT"),
    (
        "formation-count",
        {},
        ["-m", "web=many"],
        "--formation 'web=many': count must be a whole number >= 0",
    ),
    (
        "formation-type",
        {},
        ["-m", "clock=1"],
        "--formation clock: the Procfile has no process type 'clock'",
    ),
    (
        "option-app",
        {},
        ["-a", "my app"],
        "invalid app name 'my app': use 1-64 letters, digits, '_', '-' or '.', starting with a "
        "letter or digit (set it with --app or `app` in formation.toml)",
    ),
    ("option-user", {}, ["-u", "no body"], "invalid user name 'no body'"),
    ("option-port", {}, ["-p", "70000"], "--port 70000: must be between 1 and 65535"),
    (
        "option-timeout",
        {},
        ["--timeout", "0"],
        "--timeout 0: must be a whole number of seconds >= 1",
    ),
    ("option-env-mode", {}, ["--env-mode", "secret"], "--env-mode 'secret': use inline or file"),
    ("option-color", {}, ["--color", "pink"], "--color 'pink': use auto, always or never"),
    ("option-template", {}, ["-t", "nowhere"], "nowhere: --template: no such directory"),
    (
        "option-unknown",
        {},
        ["--bogus"],
        "No such option: --bogus (Possible options: --log, --user)",
    ),
    (
        "plan-port-clash",
        {"formation.toml": "[process.worker]\nport = 5000\n"},
        [],
        "web.1 and worker.1 would both get port 5000: set a different [process.worker] port",
    ),
    ("plan-port-range", {}, ["-p", "65500"], "worker.1 would get port 65600, above 65535"),
    (
        "systemd-path",
        {},
        ["-a", "app", "-d", "/srv/app "],
        "systemd cannot carry the path '/srv/app ': no control characters, no leading or "
        "trailing white space, no trailing backslash",
    ),
]


def make(tmp_path: Path, files: dict[str, str | bytes | None]) -> Path:
    app = write_app(tmp_path / "app", PROCFILE)
    for name, content in files.items():
        if content is None:
            (app / name).unlink()
        elif isinstance(content, bytes):
            (app / name).write_bytes(content)
        else:
            (app / name).write_text(content)
    return app


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [case[1:] for case in CATALOGUE],
    ids=[case[0] for case in CATALOGUE],
)
def test_bad_input_is_one_line_exit_2_and_location_unchanged(
    procexport, tmp_path, files, args, message
):
    app = make(tmp_path, files)
    out = tmp_path / "out"
    out.mkdir()
    (out / "unrelated.service").write_text("[Service]\nExecStart=/bin/true\n")
    before = snapshot(out)
    result = procexport("systemd", str(out), *args, cwd=app)
    assert (result.status, result.stderr) == (2, f"procexport: error: {message}\n")
    assert result.stdout == ""
    assert snapshot(out) == before


LOCATION_CASES = [
    ("location-is-a-file", "is not a directory"),
    (
        "location-foreign-file",
        "refusing to overwrite a file procexport did not write (use --force to take it over)",
    ),
    (
        "location-edited-file",
        "refusing to overwrite a file that was edited since procexport wrote it (use --force to "
        "discard the edit)",
    ),
    ("location-directory-in-the-way", "is a directory where procexport must write a file"),
    (
        "location-bad-manifest",
        "is not a manifest procexport can read (use --force to start a new one)",
    ),
]


@pytest.mark.parametrize(("case", "message"), LOCATION_CASES, ids=[c[0] for c in LOCATION_CASES])
def test_location_problems_are_refused_and_change_nothing(procexport, tmp_path, case, message):
    app = make(tmp_path, {})
    out = tmp_path / "out"
    if case == "location-is-a-file":
        out.write_text("x")
        path = out
    else:
        procexport("systemd", str(out), "-q", cwd=app)
        if case == "location-foreign-file":
            path = out / "mine.target"
            (app / "Procfile").write_text("web: a\nmine: b\n")
            write_app(tmp_path / "other", "web: x\n")
            procexport("systemd", str(out), "-q", "-a", "app-mine", cwd=tmp_path / "other")
            path = out / "app-mine.target"
            (path).write_text("[Unit]\nDescription=hand written\n")
            (out / ".procexport.app-mine.systemd.toml").unlink()
        elif case == "location-edited-file":
            path = out / "app-web@.service"
            path.write_text(path.read_text() + "Nice=5\n")
            (app / "Procfile").write_text("web: changed\nworker: work\n")
        elif case == "location-directory-in-the-way":
            path = out / "app-web@2.service.d" / "instance.conf"
            path.mkdir(parents=True)
        else:
            path = out / ".procexport.app.systemd.toml"
            path.write_text("files = 3\n")
    before = snapshot(out) if out.is_dir() else out.read_bytes()
    result = procexport("systemd", str(out), "-m", "all=2", cwd=app)
    assert (result.status, result.stderr) == (2, f"procexport: error: {path}: {message}\n")
    assert (snapshot(out) if out.is_dir() else out.read_bytes()) == before


def test_readme_lists_every_message_a_user_can_meet():
    readme = (REPO / "README.md").read_text()
    messages = [case[3] for case in CATALOGUE]
    messages += [message for _, message in LOCATION_CASES]
    missing = [m for m in messages if _stable_part(m) not in readme]
    assert missing == []


def _stable_part(message: str) -> str:
    """The longest stretch of a message with no input in it ('X', paths, T.N, numbers)."""
    pieces = re.split(r"'[^']*'|\S*[/.]\S*|\d+|--\w+|\([^)]*\)|\[[^\]]*\]|:", message)
    return max((p.strip() for p in pieces), key=len)
