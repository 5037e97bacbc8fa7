"""supervisord output: supervisor's own loader, and a real supervisord running every process."""

from __future__ import annotations

import getpass
import os
import signal
from pathlib import Path

import helpers
import pytest
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    PROBE_COMMAND,
    dotenv_line,
    expected_port,
    probe_app,
    probe_records,
    sh_c_reference,
    snapshot,
    wait_for_probe_records,
    wait_for_records,
    write_app,
)
from supervisor_harness import BASE_ENVIRONMENT, Supervisor, execv_args, load_programs

# Values supervisor 4's environment= cannot hold exactly; test_values_... proves each is refused.
NOT_INLINE = {
    "BOTH": "both kinds of quote",
    "DOUBLE": "starts or ends with a quote",
    "NEWLINE": "line break",
    "HASH": "';' or '#' after white space",
    "CR": "line break",
}
INLINE_VALUES = {k: v for k, v in NASTY_VALUES.items() if k not in NOT_INLINE}
USER = getpass.getuser()


def export(procexport, app: Path, out: Path, *args: str) -> Path:
    result = helpers.export(procexport, app, "supervisord", out, *args, quiet=False, user=USER)
    assert result.status == 0, result.stderr
    return out / f"{app.name}.conf"


def test_supervisors_loader_reads_back_every_command_and_value_exactly(procexport, tmp_path):
    app = probe_app(tmp_path, NASTY_COMMANDS, INLINE_VALUES)
    programs = load_programs(export(procexport, app, tmp_path / "out"))
    assert set(programs) == {f"probeapp-{name}-1" for name in NASTY_COMMANDS}
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        program = programs[f"probeapp-{name}-1"]
        assert execv_args(program) == ["/bin/sh", "-c", command], name
        assert program.environment == INLINE_VALUES | {
            "PROBE_WAIT": "1",
            "PROBE_OUT": str(tmp_path / "probe-{PS}.jsonl"),
            "PORT": str(expected_port(index)),
            "PS": f"{name}.1",
        }, name
        assert program.directory == str(app)


def test_program_settings_reach_supervisor(procexport, tmp_path):
    from supervisor.datatypes import RestartUnconditionally

    app = write_app(
        tmp_path / "shop",
        "web: serve\nworker: work\n",
        {"process": {"worker": {"stop_signal": "QUIT", "timeout": 90}}},
    )
    root = "/srv/my shop %d;x"
    logs = tmp_path / "lo%gs;x"
    logs.mkdir()
    programs = load_programs(
        export(procexport, app, tmp_path / "out", "-d", root, "-l", str(logs), "-a", "shop")
    )
    web, worker = programs["shop-web-1"], programs["shop-worker-1"]
    assert web.directory == root
    assert web.autorestart is RestartUnconditionally
    assert (web.stopasgroup, web.killasgroup) == (True, True)
    assert (web.stopsignal, web.stopwaitsecs) == (signal.SIGTERM, 30)
    assert (worker.stopsignal, worker.stopwaitsecs) == (signal.SIGQUIT, 90)
    assert web.stdout_logfile == f"{logs}/shop-web-1.log"
    assert web.redirect_stderr is True
    assert web.uid == os.geteuid()


def test_default_logs_are_supervisors_auto(procexport, tmp_path):
    from supervisor.datatypes import Automatic

    app = write_app(tmp_path / "shop", "web: serve\n")
    web = load_programs(export(procexport, app, tmp_path / "out"))["shop-web-1"]
    assert web.stdout_logfile is Automatic
    assert web.stderr_logfile is Automatic


def test_a_real_supervisord_starts_every_instance_with_the_sh_c_argv_and_environment(
    procexport, tmp_path
):
    app = probe_app(tmp_path, NASTY_COMMANDS, INLINE_VALUES)
    conf = export(procexport, app, tmp_path / "out", "-m", "all=1,quotes=2")
    names = {f"probeapp:probeapp-{name}-1" for name in NASTY_COMMANDS} | {
        "probeapp:probeapp-quotes-2"
    }
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    wanted = {}
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        for number in (1, 2) if name == "quotes" else (1,):
            ps = f"{name}.{number}"
            env = (
                BASE_ENVIRONMENT
                | INLINE_VALUES
                | {
                    "PORT": str(expected_port(index, number)),
                    "PS": ps,
                }
            )
            wanted[ps] = sh_c_reference(command, env, app, reference_dir / f"{ps}.jsonl")
            assert wanted[ps], ps
    with Supervisor(conf) as supervisor:
        supervisor.wait_for(names)
        running = {
            ps: wait_for_probe_records(tmp_path / f"probe-{ps}.jsonl", len(want))
            for ps, want in wanted.items()
        }
    for ps, want in wanted.items():
        assert running[ps] == want, ps


def test_stop_delivers_the_stop_signal_to_the_app_itself(procexport, tmp_path):
    app = probe_app(
        tmp_path,
        {"web": f"{PROBE_COMMAND} web --wait", "worker": f"cd / && {PROBE_COMMAND} worker --wait"},
        {},
        process={"worker": {"stop_signal": "QUIT"}},
    )
    conf = export(procexport, app, tmp_path / "out")
    with Supervisor(conf) as supervisor:
        supervisor.wait_for({"probeapp:probeapp-web-1", "probeapp:probeapp-worker-1"})
        for ps in ("web.1", "worker.1"):  # the app is up, not only the shell in front of it
            wait_for_records(tmp_path / f"probe-{ps}.jsonl", 1)
        supervisor.ctl("stop", "probeapp:*")
        supervisor.wait_for({"probeapp:probeapp-web-1", "probeapp:probeapp-worker-1"}, "STOPPED")
    for ps, signame in (("web.1", "SIGTERM"), ("worker.1", "SIGQUIT")):
        start, stop = wait_for_records(tmp_path / f"probe-{ps}.jsonl", 2)
        assert (stop["event"], stop["signal"], stop["pid"]) == ("signal", signame, start["pid"])


def test_a_killed_app_is_restarted(procexport, tmp_path):
    app = probe_app(tmp_path, {"web": f"{PROBE_COMMAND} web --wait"}, {})
    conf = export(procexport, app, tmp_path / "out")
    out = tmp_path / "probe-web.1.jsonl"
    with Supervisor(conf) as supervisor:
        supervisor.wait_for({"probeapp:probeapp-web-1"})
        (first,) = wait_for_records(out, 1)
        os.kill(first["pid"], signal.SIGKILL)
        _, second = wait_for_records(out, 2)
        assert second["event"] == "start"
        assert second["pid"] != first["pid"]
        supervisor.wait_for({"probeapp:probeapp-web-1"})


@pytest.mark.parametrize(("name", "problem"), sorted(NOT_INLINE.items()))
def test_values_supervisor_cannot_hold_are_refused_naming_the_variable(
    procexport, tmp_path, name, problem
):
    app = write_app(tmp_path / "a", "web: serve\n", dotenv=dotenv_line(name, NASTY_VALUES[name]))
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    result = procexport("supervisord", str(out), cwd=app)
    assert result.status == 2
    assert result.stderr.startswith(
        f"procexport: error: supervisord cannot carry the value of {name} (.env:1)"
    )
    assert problem in result.stderr
    assert snapshot(out) == before


def test_a_group_is_refused_because_supervisor_cannot_set_one(procexport, tmp_path):
    app = write_app(tmp_path / "a", "web: serve\n", {"group": "staff"})
    result = procexport("supervisord", cwd=app)
    assert result.status == 2
    assert "supervisord cannot run web with group 'staff'" in result.stderr


def test_two_apps_in_one_include_dir_have_distinct_program_names(procexport, tmp_path):
    out = tmp_path / "out"
    for name in ("shop", "shop-web"):
        app = write_app(tmp_path / name, "web: serve\n")
        export(procexport, app, out)
    shop, shop_web = load_programs(out / "shop.conf"), load_programs(out / "shop-web.conf")
    assert set(shop) == {"shop-web-1"}
    assert set(shop_web) == {"shop-web-web-1"}


def test_an_app_whose_program_names_clash_with_another_apps_is_refused(procexport, tmp_path):
    # app `a` type `b-c` and app `a-b` type `c` both give [program:a-b-c-1]: supervisord
    # would merge the two sections and run one app's command for both
    out = tmp_path / "out"
    first = probe_app(tmp_path / "a", {"b-c": f"{PROBE_COMMAND} a --wait"}, {})
    export(procexport, first, out, "-a", "a")
    before = snapshot(out)
    second = probe_app(tmp_path / "a-b", {"c": f"{PROBE_COMMAND} a-b --wait"}, {})
    result = procexport("supervisord", str(out), "-u", USER, "-a", "a-b", cwd=second)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"procexport: error: {out}: supervisord would merge [program:a-b-c-1] with the section "
        "of that name in a.conf and run one command for both: choose another app name (-a)\n"
    )
    assert snapshot(out) == before
    # a hand-written program of that name in the include directory is a clash too
    (out / "a.conf").rename(out / "handmade.conf")
    (out / ".procexport.a.supervisord.toml").unlink()
    assert procexport("supervisord", str(out), "-u", USER, "-a", "a-b", cwd=second).status == 2
    # the first app alone runs under a real supervisord with its own name
    (out / "handmade.conf").rename(out / "a.conf")
    with Supervisor(out / "*.conf") as supervisor:
        supervisor.wait_for({"a:a-b-c-1"})
        assert set(supervisor.status()) == {"a:a-b-c-1"}


# supervisor's own names, doubled and tripled `%`, and the text supervisor replaces before any
# expansion (`%(here)s`): all of them must reach the process literally.
EXPANSIONS = (
    "%(here)s %%(here)s %%%(here)s %(ENV_X)s %(program_name)s %(group_name)s "
    "%(process_num)s %(numprocs)d %(host_node_name)s %(here).0s 100% %"
)


def test_supervisors_own_expansions_reach_the_process_literally(procexport, tmp_path):
    root = tmp_path / "root %(here)s %(program_name)s"
    logs = tmp_path / "logs %(here)s %%(ENV_X)s"
    root.mkdir()
    logs.mkdir()
    command = f"{PROBE_COMMAND} '{EXPANSIONS}' 100% --wait"
    app = probe_app(tmp_path, {"web": command}, {}, env={"X": EXPANSIONS, "ENV_X": "%(here)s"})
    conf = export(
        procexport, app, tmp_path / "out", "-a", "probeapp", "-d", str(root), "-l", str(logs)
    )
    assert "%(here)s" not in conf.read_text()
    with Supervisor(conf) as supervisor:
        supervisor.wait_for({"probeapp:probeapp-web-1"})
        wait_for_records(tmp_path / "probe-web.1.jsonl", 1)
        got = probe_records(tmp_path / "probe-web.1.jsonl")[:1]
    env = BASE_ENVIRONMENT | {"X": EXPANSIONS, "ENV_X": "%(here)s", "PORT": "5000", "PS": "web.1"}
    want = sh_c_reference(command, env, root, tmp_path / "reference.jsonl")
    assert got == want
    assert got[0]["cwd"] == str(root)
    assert (logs / "probeapp-web-1.log").exists()


@pytest.mark.parametrize("root", ["/srv/a ;comment", "/srv/a #x", "/srv/trailing ", "/srv/a\nb"])
def test_a_path_supervisor_would_cut_or_strip_is_refused(procexport, tmp_path, root):
    app = write_app(tmp_path / "a", "web: serve\n")
    result = procexport("supervisord", "-a", "a", "-d", root, cwd=app)
    assert result.status == 2
    assert "supervisord cannot carry the path" in result.stderr


def test_a_path_no_program_carries_is_not_refused(procexport, tmp_path):
    """With no instance to run, the file names neither the root nor the log directory."""
    app = write_app(tmp_path / "a", "web: serve\n")
    result = procexport(
        "supervisord", "-a", "a", "-m", "web=0", "-d", "/srv/a ;x", "-l", "/l #x", cwd=app
    )
    assert result.status == 0, result.stderr
    assert "[program:" not in result.stdout
    assert "/srv/a" not in result.stdout
