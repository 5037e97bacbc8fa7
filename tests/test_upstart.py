"""Upstart output, read by a model of libnih's tokenizer and run as Upstart would run it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    dotenv_line,
    read_tree,
    run_probe,
    sh_c_reference,
    snapshot,
    write_app,
)
from upstart_model import (
    UPSTART_DEFAULT_ENV,
    UpstartParseError,
    job_environment,
    main_process_argv,
    next_arg,
    parse_job,
)

INLINE_VALUES = {k: v for k, v in NASTY_VALUES.items() if k != "NEWLINE"}


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, str]:
    result = procexport("upstart", str(out), *args, cwd=app)
    assert result.status == 0, result.stderr
    return read_tree(out)


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
        ("'it\\'s'", "it's"),
        ('"x \\\\ y"', "x \\ y"),
        ('"# not a comment"', "# not a comment"),
        ("a#comment", "a"),
        ('"line\n  break"', "line break"),
    ],
)
def test_the_tokenizer_model_follows_libnih(text, expected):
    assert next_arg(text, 0)[0] == expected


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
        assert job.env == INLINE_VALUES | {"PORT": str(5000 + 100 * index), "PS": f"{name}.1"}
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
                "PORT": str(5000 + 100 * index),
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
