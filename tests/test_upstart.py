"""Upstart output, read by a model of libnih's tokenizer and run as Upstart would run it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import helpers
import libnih_oracle
import pytest
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    dotenv_line,
    expected_port,
    run_probe,
    sh_c_reference,
    snapshot,
    write_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from upstart_model import (
    CNLWS,
    UPSTART_DEFAULT_ENV,
    UpstartParseError,
    config_token,
    job_environment,
    main_process_argv,
    next_arg,
    parse_job,
)

from exporter.formats.upstart import upstart_quote

INLINE_VALUES = {k: v for k, v in NASTY_VALUES.items() if k != "NEWLINE"}


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, "upstart", out, *args, quiet=False).files


def jobs_of(files: dict[str, str]):
    return {
        name.removesuffix(".conf"): parse_job(name.removesuffix(".conf"), text)
        for name, text in files.items()
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"a b"', "a b"),
        ('a"b c"d', "ab cd"),
        # a backslash before anything but a backslash, white space or a line break stays
        ("'it\\'s'", "it\\'s"),
        ('"\\"hi\\""', '\\"hi\\"'),
        ('a\\"b', 'a\\"b'),
        ("a\\ b", "a b"),
        ('"it\'s"\'"q"\'', 'it\'s"q"'),
        ('"x \\\\ y"', "x \\ y"),
        ('"# not a comment"', "# not a comment"),
        ("a#comment", "a"),
        ('"line\n  break"', "line break"),
    ],
)
def test_the_tokenizer_model_follows_libnih(text, expected):
    assert next_arg(text, 0)[0] == expected


def test_the_issues_double_quote_example_keeps_its_backslashes():
    # libnih 1.0.3 keeps a backslash before `"`; the space before a kept backslash is copied
    # one character late (nih_config_token's memcpy), which the compiled C confirms below.
    assert next_arg('"say \\"hi\\""', 0)[0] == 'say\\\\"hi\\"'


TOKEN_TEXT = st.text(alphabet="ab \t\r\n#\"'\\é", max_size=14)


@pytest.mark.skipif(not libnih_oracle.available(), reason="LIBNIH_CONFIG_C (libnih 1.0.3) not set")
@settings(max_examples=400)
@given(text=TOKEN_TEXT)
def test_the_tokenizer_model_matches_the_compiled_libnih_source(text):
    assert model_token_in_bytes(text) == libnih_oracle.config_token(text)


def model_token_in_bytes(text: str) -> tuple[str, int, int] | str:
    """The model over the UTF-8 bytes of `text` (one character per byte), as C sees them."""
    try:
        token, end, length = config_token(text.encode().decode("latin-1"), 0, CNLWS)
    except UpstartParseError as error:
        return str(error)
    return token.encode("latin-1").decode(), end, length


# Values whose quoting the old tokenizer model let through and libnih 1.0.3 does not.
QUOTE_VALUES = [
    'say "hi"',
    '"',
    '""',
    "'",
    'it\'s "both"',
    '\\"',
    "x \\y",
    "\\",
    " \\ ",
    "a\\\\b",
    "'\"'\"'",
    "# $HOME; `x` %i",
    "\t tab \r cr",
    "ünï ☃",
]


@pytest.mark.parametrize("value", QUOTE_VALUES)
def test_upstart_quote_round_trips_through_libnih(value):
    text = upstart_quote(value)
    assert next_arg(text, 0) == (value, len(text))
    if libnih_oracle.available():
        size = len(text.encode())
        assert libnih_oracle.config_token(text) == (value, size, len(value.encode()))


@given(value=st.text(st.characters(blacklist_characters="\n", codec="utf-8")))
def test_upstart_quote_round_trips_any_value_without_a_line_break(value):
    text = upstart_quote(value)
    if value:
        assert next_arg(text + " # comment\n", 0) == (value, len(text) + 1)


def test_env_values_with_quotes_and_backslashes_reach_the_job_exactly(procexport, tmp_path):
    values = {f"V{i}": value for i, value in enumerate(QUOTE_VALUES)}
    app = write_app(tmp_path / "a", "web: serve\n", {"env": values})
    job = jobs_of(export(procexport, app, tmp_path / "out"))["a-web-1"]
    assert job.env == values | {"PORT": "5000", "PS": "web.1"}


INJECTION = "/x\nend script\nscript\n  exec touch /tmp/PWNED\n#"


@pytest.mark.parametrize(
    "args",
    [
        ["-l", INJECTION],
        ["-l", "/var/log/a\rb"],
        ["-d", INJECTION],
        ["-d", "/srv/a\nb"],
    ],
    ids=["log-injection", "log-cr", "root-injection", "root-line-break"],
)
def test_a_path_with_a_line_break_is_refused_before_it_can_end_the_script(
    procexport, tmp_path, args
):
    app = write_app(tmp_path / "a", "web: serve\n")
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    result = procexport("upstart", str(out), "-a", "a", *args, cwd=app)
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: upstart cannot carry the path {args[1]!r}: it holds a line break "
        "or another control character\n"
    )
    assert snapshot(out) == before


def test_a_location_with_a_line_break_is_refused_in_env_file_mode(procexport, tmp_path):
    app = write_app(tmp_path / "a", "web: serve\n", {"env_mode": "file"}, "SECRET=x\n")
    out = tmp_path / "out\nend script\nscript\n  exec touch PWNED\n#"
    result = procexport("upstart", str(out), "-a", "a", cwd=app)
    assert result.status == 2
    assert "upstart cannot carry the path" in result.stderr
    assert not out.exists()


def test_the_tokenizer_model_rejects_what_libnih_rejects():
    with pytest.raises(UpstartParseError):
        next_arg('"open', 0)
    with pytest.raises(UpstartParseError):
        next_arg("trailing\\", 0)


def nasty_app(tmp_path: Path, values: dict[str, str]) -> Path:
    procfile = "".join(f"{name}: {command}\n" for name, command in NASTY_COMMANDS.items())
    dotenv = "".join(dotenv_line(name, value) for name, value in values.items())
    return write_app(tmp_path / "nasty", procfile, {"group": "staff"}, dotenv)


def test_every_job_parses_to_exactly_the_intended_settings(procexport, tmp_path):
    app = nasty_app(tmp_path, INLINE_VALUES)
    jobs = jobs_of(export(procexport, app, tmp_path / "out", "--timeout", "45"))
    for index, name in enumerate(NASTY_COMMANDS):
        job = jobs[f"nasty-{name}-1"]
        assert job.env == INLINE_VALUES | {"PORT": str(expected_port(index)), "PS": f"{name}.1"}
        assert (job.setuid, job.setgid, job.chdir) == ("nasty", "staff", str(app))
        assert (job.kill_signal, job.kill_timeout, job.respawn) == ("TERM", 45, True)
        assert job.respawn_limit is not None
        assert job.console == "log"


def test_the_main_process_receives_what_sh_c_gives(procexport, tmp_path):
    app = nasty_app(tmp_path, INLINE_VALUES)
    jobs = jobs_of(export(procexport, app, tmp_path / "out"))
    out = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        job = jobs[f"nasty-{name}-1"]
        assert job.chdir is not None
        got = run_probe(main_process_argv(job), job_environment(job), job.chdir, out)
        intended = (
            UPSTART_DEFAULT_ENV
            | INLINE_VALUES
            | {
                "PORT": str(expected_port(index)),
                "PS": f"{name}.1",
            }
        )
        want = sh_c_reference(command, intended, app, out)
        assert got == want, name
        assert want, name


def test_the_start_on_chain_runs_instance_to_type_to_app(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    jobs = jobs_of(export(procexport, app, tmp_path / "out", "-m", "web=2,worker=1"))
    assert set(jobs) == {
        "shop",
        "shop-web",
        "shop-worker",
        "shop-web-1",
        "shop-web-2",
        "shop-worker-1",
    }
    assert (jobs["shop"].start_on, jobs["shop"].stop_on) == (
        ["runlevel", "[2345]"],
        ["runlevel", "[!2345]"],
    )
    assert (jobs["shop-web"].start_on, jobs["shop-web"].stop_on) == (
        ["starting", "shop"],
        ["stopping", "shop"],
    )
    for name in ("shop-web-1", "shop-web-2"):
        assert (jobs[name].start_on, jobs[name].stop_on) == (
            ["starting", "shop-web"],
            ["stopping", "shop-web"],
        )
    assert jobs["shop-worker-1"].start_on == ["starting", "shop-worker"]


def test_stop_signal_and_log_files(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: echo hello from $PS\nworker: work\n",
        {"process": {"worker": {"stop_signal": "QUIT", "timeout": 90}}},
    )
    logs = tmp_path / "my 'logs' %"
    jobs = jobs_of(export(procexport, app, tmp_path / "out", "-l", str(logs)))
    assert (jobs["shop-worker-1"].kill_signal, jobs["shop-worker-1"].kill_timeout) == ("QUIT", 90)
    job = jobs["shop-web-1"]
    logs.mkdir()
    subprocess.run(main_process_argv(job), env=job_environment(job), check=True)
    assert (logs / "shop-web-1.log").read_text() == "hello from web.1\n"


def test_a_value_with_a_line_break_is_refused_naming_the_variable(procexport, tmp_path):
    app = write_app(tmp_path / "a", "web: serve\n", dotenv=dotenv_line("NEWLINE", "a\nb"))
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    result = procexport("upstart", str(out), cwd=app)
    assert result.status == 2
    assert result.stderr.startswith(
        "procexport: error: upstart cannot carry the value of NEWLINE (.env:1)"
    )
    assert snapshot(out) == before


@pytest.mark.parametrize("root", ["/srv/a b", '/srv/it\'s "q" #x', "/srv/back\\slash", "/srv/é"])
def test_awkward_roots_reach_chdir_exactly(procexport, tmp_path, root):
    app = write_app(tmp_path / "a", "web: serve\n")
    jobs = jobs_of(export(procexport, app, tmp_path / "out", "-a", "a", "-d", root))
    assert jobs["a-web-1"].chdir == root
