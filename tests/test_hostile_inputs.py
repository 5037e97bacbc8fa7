"""Inputs an unlucky operator or an attacker gives: empty values, absurd numbers, files that are
not files, broken templates, odd LOCATIONs. Each is one line, exit 2, nothing written, no
traceback; and every message is in README's error table."""

from __future__ import annotations

import os

import pytest
from helpers import REPO, snapshot, write_app
from test_errors import _stable_part

PROCFILE = "web: serve\nworker: work\n"

# (id, files to write over the default app, args after LOCATION, exact stderr after "error: ")
CASES = [
    *(
        (
            f"empty-{flag}",
            {},
            [flag, ""],
            f"{name} is empty: give a value, or leave it out for the default",
        )
        for flag, name in [
            ("-a", "--app"),
            ("-u", "--user"),
            ("-d", "--root"),
            ("-l", "--log"),
            ("-t", "--template"),
            ("--env-mode", "--env-mode"),
            ("-f", "--procfile"),
            ("-F", "--formation-file"),
            ("-e", "--env"),
        ]
    ),
    *(
        (
            f"empty-key-{key}",
            {"formation.toml": f'{key} = ""\n'},
            [],
            f"formation.toml:1: {key}: must not be empty",
        )
        for key in ("app", "user", "shell", "root", "log", "procfile", "group")
    ),
    (
        "empty-process-user",
        {"formation.toml": '[process.web]\nuser = ""\n'},
        [],
        "formation.toml:2: process.web.user: must not be empty",
    ),
    *(
        (
            f"nul-in-{where}",
            {"formation.toml": text},
            [],
            f"formation.toml:{line}: {key}: holds a NUL character, which no process can be given",
        )
        for where, text, line, key in [
            ("env", '[env]\nX = "a\\u0000b"\n', 2, "env.X"),
            ("process-env", '[process.web]\nenv = { Y = "\\u0000" }\n', 2, "process.web.env.Y"),
            ("root", 'root = "/srv/a\\u0000b"\n', 1, "root"),
        ]
    ),
    *(
        (
            f"empty-{flag}",
            {},
            [flag, ""],
            f"{name} is empty: give a value, or leave it out for the default",
        )
        for flag, name in [("-g", "--group"), ("-s", "--shell")]
    ),
    (
        "toml-nested-5000-deep",
        {"formation.toml": "a = " + "[" * 5000 + "]" * 5000 + "\n"},
        [],
        "formation.toml: arrays or tables nested too deeply",
    ),
    (
        "timeout-beyond-every-format",
        {},
        ["--timeout", "99999999999999999999"],
        "--timeout 99999999999999999999: at most 2147483647 seconds",
    ),
    (
        "timeout-key-beyond-every-format",
        {"formation.toml": "timeout = 2147483648\n"},
        [],
        "formation.toml:1: timeout: Input should be less than or equal to 2147483647",
    ),
    (
        "count-beyond-the-maximum",
        {},
        ["-m", "web=10001"],
        "--formation 'web=10001': at most 10000 instances per type",
    ),
    (
        "count-key-beyond-the-maximum",
        {"formation.toml": "[formation]\nweb = 99999999999\n"},
        [],
        "formation.toml:2: formation.web: Input should be less than or equal to 10000",
    ),
    (
        "app-name-that-is-no-user-name",
        {},
        ["-a", "1app"],
        "the app name '1app' is not a valid user name, and the user defaults to the app name: "
        "set the user with --user (or `user` in formation.toml), or another app name with --app",
    ),
    (
        "template-raises",
        {"tpl/systemd/app.target.j2": "{{ 1/0 }}\n"},
        ["-t", "tpl"],
        "tpl/systemd/app.target.j2:1: template error: ZeroDivisionError: division by zero",
    ),
    (
        "template-not-utf8",
        {"tpl/systemd/app.target.j2": b"\xff\xfe{{ x }}\n"},
        ["-t", "tpl"],
        "tpl: template error: a template is not valid UTF-8",
    ),
]


@pytest.mark.parametrize(
    ("files", "args", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_hostile_input_is_one_line_exit_2_and_location_unchanged(
    procexport, tmp_path, files, args, message
):
    app = write_app(tmp_path / "app", PROCFILE)
    for name, content in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (app / name).write_bytes(content)
        else:
            (app / name).write_text(content)
    out = tmp_path / "out"
    out.mkdir()
    (out / "unrelated.service").write_text("[Service]\nExecStart=/bin/true\n")
    before = snapshot(out)
    result = procexport("systemd", str(out), *args, cwd=app)
    assert (result.status, result.stderr) == (2, f"procexport: error: {message}\n")
    assert snapshot(out) == before


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "1e400", "soon"])
def test_a_lock_timeout_that_is_no_bounded_number_is_refused(
    procexport, tmp_path, monkeypatch, timeout
):
    app = write_app(tmp_path / "app", PROCFILE)
    monkeypatch.setenv("PROCEXPORT_LOCK_TIMEOUT", timeout)
    result = procexport("systemd", str(tmp_path / "out"), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        "procexport: error: PROCEXPORT_LOCK_TIMEOUT: must be a number of seconds from 0 to 86400\n"
    )


def test_an_empty_location_is_an_error_not_the_current_directory(procexport, tmp_path):
    app = write_app(tmp_path / "app", PROCFILE)
    before = snapshot(app)
    result = procexport("systemd", "", cwd=app)
    assert result.stderr == (
        "procexport: error: LOCATION is empty: give a value, or leave it out for the default\n"
    )
    assert snapshot(app) == before


@pytest.mark.parametrize("name", ["formation.toml", ".env"])
def test_a_default_input_that_is_a_fifo_is_refused_not_skipped(procexport, tmp_path, name):
    app = write_app(tmp_path / "app", PROCFILE)
    os.mkfifo(app / name)
    result = procexport("systemd", str(tmp_path / "out"), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"procexport: error: {name}: is not a regular file (a FIFO, device or socket?): give a "
        "file\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["-f", "-e", "-F"])
def test_a_fifo_as_an_input_file_is_refused_without_waiting_for_a_writer(
    procexport, tmp_path, flag
):
    app = write_app(tmp_path / "app", PROCFILE)
    os.mkfifo(app / "fifo")
    result = procexport("systemd", str(tmp_path / "out"), flag, "fifo", cwd=app)
    assert result.stderr == (
        "procexport: error: fifo: is not a regular file (a FIFO, device or socket?): give a file\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_project_directory_named_like_a_number_says_app_name(procexport, tmp_path):
    app = write_app(tmp_path / "2048-shop", PROCFILE)
    result = procexport("systemd", cwd=app)
    assert "the app name '2048-shop' is not a valid user name" in result.stderr
    assert procexport("systemd", "-u", "shop", cwd=app).status == 0


LOCATION_CASES = [
    ("under-a-file", "cannot be a directory: a parent of it is a file"),
    (
        "broken-link",
        "is a symbolic link to something that does not exist: fix or remove the link",
    ),
]


@pytest.mark.parametrize(("case", "message"), LOCATION_CASES, ids=[c[0] for c in LOCATION_CASES])
def test_a_location_that_cannot_be_a_directory_says_why(procexport, tmp_path, case, message):
    app = write_app(tmp_path / "app", PROCFILE)
    if case == "under-a-file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "units"
    else:
        out = tmp_path / "link"
        out.symlink_to(tmp_path / "nowhere")
    for force in ((), ("--force",)):
        result = procexport("systemd", str(out), *force, cwd=app)
        assert (result.status, result.stderr) == (2, f"procexport: error: {out}: {message}\n")
    assert not (tmp_path / "nowhere").exists()


def test_the_suggested_chown_line_is_shell_quoted(procexport, tmp_path):
    app = write_app(tmp_path / "app", PROCFILE, dotenv="SECRET=1\n")
    out = tmp_path / "out dir; rm -rf ~"
    args = ["--env-mode", "file", "-u", "nosuchuser9"]  # no such account: left to the operator
    result = procexport("supervisord", str(out), *args, cwd=app)
    assert result.status == 0
    assert f"  chown nosuchuser9 '{out}/" in result.stderr


def test_readme_lists_every_new_message():
    readme = (REPO / "README.md").read_text()
    messages = [case[3] for case in CASES] + [message for _, message in LOCATION_CASES]
    messages += [
        "is a symbolic link inside LOCATION; procexport never reads or writes through one",
        "another procexport is writing into this directory",
        "nothing was changed",
        "file name too long for the file system: use a shorter name",
        "is a file where procexport needs a directory: move it away",
        "is not a regular file; refusing to replace it",
        "newer than this procexport understands",
        "is a write journal procexport cannot read",
        "an interrupted export could not be cleaned up",
        "the change could not be undone either, the next export will retry",
    ]
    missing = [m for m in messages if _stable_part(m) not in readme]
    assert missing == []


def test_the_largest_timeout_reaches_systemd_exactly(procexport, tmp_path):
    import systemd_oracle
    from helpers import read_tree

    if not systemd_oracle.available():
        pytest.skip("systemd is not installed")
    app = write_app(tmp_path / "app", "web: serve\n")
    assert (
        procexport("systemd", str(tmp_path / "u"), "-q", "--timeout", "2147483647", cwd=app).status
        == 0
    )
    units, warnings = systemd_oracle.load_units(read_tree(tmp_path / "u"), "app.target")
    assert warnings == []
    assert units["app-web@1.service"].get("TimeoutStopSec") == "68y 2w 4d 3h 14min 7s"


@pytest.mark.parametrize("fmt", ["systemd-user", "launchd"])
def test_an_app_name_that_is_no_user_name_is_fine_where_no_default_user_is_written(
    procexport, tmp_path, fmt
):
    app = write_app(tmp_path / "9app", "web: serve\n")
    result = procexport(fmt, cwd=app)
    assert result.status == 0, result.stderr
    assert "9app-web" in result.stdout


def test_kubernetes_runs_as_a_numeric_user_only_when_one_is_set(procexport, tmp_path):
    app = write_app(tmp_path / "1234", "worker: work\n", {"kubernetes": {"image": "i:1"}})
    assert "runAsUser" not in procexport("kubernetes", cwd=app).stdout
    assert "runAsUser: 1000" in procexport("kubernetes", "-u", "1000", cwd=app).stdout
