"""runit output: run scripts started by a real runsvdir/runsv, stopped with sv, logged by svlogd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import helpers
import pytest
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    PROBE_COMMAND,
    REPO,
    dotenv_line,
    expected_port,
    probe_app,
    raw_records,
    read_tree,
    sh_c_reference,
    snapshot,
    write_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from runit_harness import RUNSVDIR_ENVIRONMENT, Runsvdir, process_table, wait_until

from exporter.formats.shell import SOURCE_THEN_RUN

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="chpst -u switches accounts, which needs root"
)
# What a run script passes on from runsvdir's environment.
PASSED_ON = {"PATH": RUNSVDIR_ENVIRONMENT["PATH"]}


def export(procexport, app: Path, out: Path, *args: str) -> str:
    result = helpers.export(procexport, app, "runit", out, *args, quiet=False, user="root")
    assert result.status == 0, result.stderr
    return result.stderr


def services(out: Path) -> list[Path]:
    return sorted(path for path in out.iterdir() if path.is_dir())


def log_lines(current: Path, count: int) -> list[str] | None:
    """svlogd's current file, once it has `count` lines."""
    if not current.exists():
        return None
    lines = current.read_text().splitlines()
    return lines if len(lines) >= count else None


def without_pid(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "pid"}


def records(path: Path, count: int) -> list[dict]:
    return wait_until(
        lambda: (found := raw_records(path)) and len(found) >= count and found,
        f"{count} records in {path.name}",
    )


@needs_root
def test_runsv_starts_every_instance_as_sh_c_would_with_exactly_its_environment(
    procexport, tmp_path
):
    app = probe_app(tmp_path, NASTY_COMMANDS, NASTY_VALUES)
    out = tmp_path / "out"
    export(procexport, app, out, "-m", "all=1,quotes=2")
    instances = [f"{name}.1" for name in NASTY_COMMANDS] + ["quotes.2"]
    expected_records = {
        ps: 3 if ps.startswith("semicolon") else 1 for ps in instances
    }  # `first; second; third`
    with Runsvdir(*services(out)) as runsvdir:
        for ps in instances:
            runsvdir.pid(f"probeapp-{ps.replace('.', '-')}")
        running = {
            ps: records(tmp_path / f"probe-{ps}.jsonl", count)[:count]
            for ps, count in expected_records.items()
        }
    reference = tmp_path / "reference"
    reference.mkdir()
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        for number in (1, 2) if name == "quotes" else (1,):
            ps = f"{name}.{number}"
            env = PASSED_ON | NASTY_VALUES | {"PORT": str(expected_port(index, number))}
            env |= {"PS": ps, "PROBE_WAIT": "0"}
            want = sh_c_reference(command, env, app, reference / f"{ps}.jsonl")
            assert want, ps
            assert [without_pid(r) for r in running[ps]] == want, ps


@needs_root
def test_env_mode_file_values_reach_the_app_exactly_from_the_0600_file(procexport, tmp_path):
    app = probe_app(tmp_path, NASTY_COMMANDS, NASTY_VALUES, env_mode="file")
    out = tmp_path / "out"
    export(procexport, app, out)
    assert (out / "probeapp.env").stat().st_mode & 0o777 == 0o600
    for name, text in read_tree(out).items():
        if name != "probeapp.env":
            assert "line one" not in text and "postgres://u" not in text, name
    with Runsvdir(*services(out)) as runsvdir:
        running = {}
        for name in NASTY_COMMANDS:
            runsvdir.pid(f"probeapp-{name}-1")
            count = 3 if name == "semicolon" else 1
            running[name] = records(tmp_path / f"probe-{name}.1.jsonl", count)[:count]
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        env = PASSED_ON | NASTY_VALUES | {"PORT": str(expected_port(index)), "PS": f"{name}.1"}
        want = sh_c_reference(command, env | {"PROBE_WAIT": "0"}, app, tmp_path / f"r-{name}")
        assert [without_pid(r) for r in running[name]] == want, name


@needs_root
def test_sv_stop_delivers_the_types_stop_signal_to_the_app_behind_the_shell(procexport, tmp_path):
    app = probe_app(
        tmp_path,
        {
            "web": f"{PROBE_COMMAND} web --wait",
            "worker": f"cd / && {PROBE_COMMAND} worker --wait",
            "clock": f"cd / && {PROBE_COMMAND} clock --wait",
        },
        {},
        process={"worker": {"stop_signal": "QUIT"}, "clock": {"stop_signal": "INT"}},
    )
    out = tmp_path / "out"
    export(procexport, app, out, "--timeout", "2")
    with Runsvdir(*services(out)) as runsvdir:
        for ps in ("web.1", "worker.1", "clock.1"):
            runsvdir.pid(f"probeapp-{ps.replace('.', '-')}")
            records(tmp_path / f"probe-{ps}.jsonl", 1)
        for ps, signame in (("web.1", "SIGTERM"), ("worker.1", "SIGQUIT"), ("clock.1", "SIGINT")):
            service = f"probeapp-{ps.replace('.', '-')}"
            runsvdir.sv("-w", "10", "stop", str(runsvdir.dir / service))
            assert runsvdir.status(service).startswith("down:"), ps
            start, stop = records(tmp_path / f"probe-{ps}.jsonl", 2)
            assert (stop["event"], stop["signal"], stop["pid"]) == ("signal", signame, start["pid"])


@needs_root
def test_an_app_that_ignores_the_stop_signal_is_killed_after_the_timeout(procexport, tmp_path):
    # The shell ignores TERM, and so does what it runs: only SIGKILL ends them.
    app = write_app(
        tmp_path / "stubborn",
        "web: trap '' TERM; sleep 1000 & echo started; wait\n",
        {"timeout": 1},
    )
    out = tmp_path / "out"
    export(procexport, app, out)
    with Runsvdir(*services(out)) as runsvdir:
        leader = runsvdir.pid("stubborn-web-1")
        group = wait_until(
            lambda: (
                (members := {p for p, (_, g, _) in process_table().items() if g == leader})
                and len(members) == 2
                and members
            ),
            "the shell and its sleep",
        )
        started = time.monotonic()
        runsvdir.sv("-w", "15", "stop", str(runsvdir.dir / "stubborn-web-1"))
        wait_until(lambda: not group & set(process_table()), "the group to be killed", 15)
        assert time.monotonic() - started >= 0.9  # not before the timeout
        assert runsvdir.status("stubborn-web-1").startswith("down:")


@needs_root
def test_sv_kill_kills_the_whole_group_and_runsv_starts_it_again(procexport, tmp_path):
    app = probe_app(tmp_path, {"web": f"cd / && {PROBE_COMMAND} web --wait"}, {})
    out = tmp_path / "out"
    export(procexport, app, out)
    with Runsvdir(*services(out)) as runsvdir:
        leader = runsvdir.pid("probeapp-web-1")
        (first,) = records(tmp_path / "probe-web.1.jsonl", 1)
        assert first["pid"] != leader and os.getpgid(first["pid"]) == leader
        runsvdir.sv("kill", str(runsvdir.dir / "probeapp-web-1"))
        _, second = records(tmp_path / "probe-web.1.jsonl", 2)
        assert second["event"] == "start"  # no signal record: SIGKILL, to the app too
        assert not {p for p, (_, g, _) in process_table().items() if g == leader}


@needs_root
def test_a_crashing_app_is_restarted_again_and_again(procexport, tmp_path):
    app = write_app(tmp_path / "crash", "web: echo started $PS; exit 3\n")
    out = tmp_path / "out"
    export(procexport, app, out)
    current = out / "crash-web-1/log/main/current"
    with Runsvdir(*services(out)):
        lines = wait_until(lambda: log_lines(current, 3), "three starts", timeout=30)
    assert {line.split(" ", 1)[1] for line in lines} == {"started web.1"}


@needs_root
def test_a_killed_app_is_restarted_by_runsv(procexport, tmp_path):
    app = probe_app(tmp_path, {"web": f"{PROBE_COMMAND} web --wait"}, {})
    out = tmp_path / "out"
    export(procexport, app, out)
    with Runsvdir(*services(out)) as runsvdir:
        runsvdir.pid("probeapp-web-1")
        (first,) = records(tmp_path / "probe-web.1.jsonl", 1)
        os.kill(first["pid"], signal.SIGKILL)
        _, second = records(tmp_path / "probe-web.1.jsonl", 2)
        assert second["event"] == "start"
        assert second["pid"] != first["pid"]
        assert os.getpgid(second["pid"]) == runsvdir.pid("probeapp-web-1")


@pytest.mark.parametrize("log_option", [False, True])
@needs_root
def test_stdout_and_stderr_arrive_in_svlogds_current_file(procexport, tmp_path, log_option):
    app = write_app(tmp_path / "talker", "web: echo out $PS; echo err >&2; exec sleep 1000\n")
    out = tmp_path / "out"
    logs = tmp_path / "logs dir"
    export(procexport, app, out, *(["-l", str(logs)] if log_option else []))
    current = (logs / "talker-web-1" if log_option else out / "talker-web-1/log/main") / "current"
    with Runsvdir(*services(out)) as runsvdir:
        runsvdir.pid("talker-web-1")
        lines = wait_until(lambda: log_lines(current, 2), "two log lines")
    # svlogd -tt: a UTC time stamp, a space, the line
    assert [line.split(" ", 1)[1] for line in lines] == ["out web.1", "err"]
    assert all(line[:4].isdigit() and line[10] == "_" for line in lines)


@pytest.mark.parametrize(
    ("user", "group"), [("nobody", None), ("nobody", "nogroup"), ("65534", "65534")]
)
@needs_root
def test_the_app_and_its_log_run_as_the_user_and_group(procexport, tmp_path, user, group):
    formation = {"user": user} | ({"group": group} if group else {})
    app = write_app(tmp_path / "who", "web: id -un; id -gn; exec sleep 1000\n", formation)
    out = tmp_path / "out"
    assert procexport("runit", str(out), cwd=app).status == 0
    current = out / "who-web-1/log/main/current"
    with Runsvdir(*services(out)) as runsvdir:
        runsvdir.pid("who-web-1")
        lines = wait_until(lambda: log_lines(current, 2), "two log lines")
    assert [line.split(" ", 1)[1] for line in lines] == ["nobody", "nogroup"]
    owner = current.parent.stat()
    assert (owner.st_uid, owner.st_gid) == (65534, 65534)


@needs_root
def test_an_account_reads_its_own_0600_env_file(procexport, tmp_path):
    values = {k: NASTY_VALUES[k] for k in ("DOLLAR", "BOTH", "SPACES", "BACKSLASH")}
    app = write_app(
        tmp_path / "who",
        'web: id -un; printf \'[%s]\\n\' "$DOLLAR" "$BOTH" "$SPACES" "$BACKSLASH"; '
        "exec sleep 1000\n",
        {"user": "nobody", "env_mode": "file"},
        "".join(dotenv_line(k, v) for k, v in values.items()),
    )
    out = Path(tempfile.mkdtemp(prefix="runit-out-"))  # under /tmp: nobody can reach it
    out.chmod(0o755)
    try:
        assert procexport("runit", str(out), cwd=app).status == 0
        env_file = (out / "who.env").stat()
        assert (env_file.st_uid, env_file.st_mode & 0o777) == (65534, 0o600)
        current = out / "who-web-1/log/main/current"
        with Runsvdir(*services(out)) as runsvdir:
            runsvdir.pid("who-web-1")
            lines = wait_until(lambda: log_lines(current, 5), "five log lines")
        assert [line.split(" ", 1)[1] for line in lines] == [
            "nobody",
            *(f"[{value}]" for value in values.values()),
        ]
    finally:
        shutil.rmtree(out)


@needs_root
def test_a_reexport_and_a_scale_down_after_runsv_ran_need_no_force(procexport, tmp_path):
    app = probe_app(tmp_path, {"web": f"{PROBE_COMMAND} web --wait"}, {})
    out = tmp_path / "out"
    export(procexport, app, out, "-m", "web=2")
    with Runsvdir(*services(out)) as runsvdir:
        for number in (1, 2):
            runsvdir.pid(f"probeapp-web-{number}")
    assert (out / "probeapp-web-2/supervise/status").exists()
    assert export(procexport, app, out, "-m", "web=2").endswith(
        ": 0 created, 0 changed, 0 removed, 8 unchanged\n"
    )
    summary = export(procexport, app, out, "-m", "web=1", "--timeout", "5")
    assert ": 0 created, 1 changed, 4 removed, 3 unchanged\n" in summary
    assert not [
        path
        for path in (out / "probeapp-web-2").rglob("*")
        if "supervise" not in path.parts and path.is_file() and path.parent.name != "main"
    ]
    assert f"  rm -rf {out}/probeapp-web-2\n" in summary


@needs_root
def test_a_scale_down_of_a_running_instance_waits_for_sv_down_then_goes_by_the_steps(
    procexport, tmp_path
):
    app = probe_app(tmp_path, {"web": f"cd / && {PROBE_COMMAND} web --wait"}, {})
    out = tmp_path / "out"
    export(procexport, app, out, "-m", "web=2", "--timeout", "1")
    with Runsvdir(*services(out)) as runsvdir:
        runsvdir.pid("probeapp-web-1")
        pid = runsvdir.pid("probeapp-web-2")
        records(tmp_path / "probe-web.2.jsonl", 1)  # its signal handlers are in place
        before = snapshot(out)
        refused = procexport("runit", str(out), "-u", "root", "-m", "web=1", cwd=app)
        assert refused.status == 2
        assert refused.stderr == (
            f"procexport: error: {out}/probeapp-web-2: runsv still runs this instance "
            f"(pid {pid}) and needs its control/t to stop it: run "
            "'sv down /etc/service/probeapp-web-2' first, or use --force\n"
        )
        dry_run = procexport("runit", str(out), "-u", "root", "-m", "web=1", "--dry-run", cwd=app)
        assert (dry_run.status, dry_run.stderr) == (2, refused.stderr)
        assert snapshot(out) == before
        runsvdir.sv("-w", "10", "down", str(runsvdir.dir / "probeapp-web-2"))
        start, stop = records(tmp_path / "probe-web.2.jsonl", 2)
        assert (stop["event"], stop["signal"], stop["pid"]) == ("signal", "SIGTERM", start["pid"])
        summary = export(procexport, app, out, "-m", "web=1", "--timeout", "1")
        steps = [line[2:] for line in summary.splitlines() if line.startswith("  ")]
        assert steps == [
            "rm -f /etc/service/probeapp-web-2",
            f"rm -rf {out}/probeapp-web-2",
        ]
        for step in steps:  # the same, with the test's runsvdir directory for /etc/service
            command = step.replace("/etc/service", str(runsvdir.dir)).split()
            subprocess.run(command, check=True, timeout=30)
        assert not (out / "probeapp-web-2").exists()
        assert runsvdir.status("probeapp-web-1").startswith("run:")
    assert sorted(path.name for path in out.iterdir()) == [
        ".procexport.probeapp.runit.toml",
        "probeapp-web-1",
    ]


def test_next_steps_link_new_instances_and_restart_changed_ones(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "out"
    summary = export(procexport, app, out, "-m", "web=2,worker=1")
    assert summary.endswith(
        f"next:\n  ln -s {out}/shop-web-1 {out}/shop-web-2 {out}/shop-worker-1 /etc/service/\n"
    )
    (app / "Procfile").write_text("web: serve --fast\nworker: work\n")
    summary = export(procexport, app, out, "-m", "web=2,worker=1")
    assert summary.endswith("next:\n  sv restart /etc/service/shop-web-1 /etc/service/shop-web-2\n")
    (app / ".env").write_text("TOKEN=new\n")
    summary = export(procexport, app, out, "-m", "web=2,worker=1", "--env-mode", "file")
    assert summary.endswith(  # every instance sources the new env file
        "next:\n  sv restart /etc/service/shop-web-1 /etc/service/shop-web-2 "
        "/etc/service/shop-worker-1\n"
    )
    (app / ".env").write_text("TOKEN=newer\n")
    summary = export(procexport, app, out, "-m", "web=1,worker=1", "--env-mode", "file")
    assert summary.endswith(
        f"next:\n  rm -f /etc/service/shop-web-2\n  rm -rf {out}/shop-web-2\n"
        "  sv restart /etc/service/shop-web-1 /etc/service/shop-worker-1\n"
    )


def test_every_file_is_an_executable_script_and_the_run_script_comes_last(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "out"
    export(procexport, app, out)
    modes = {name: (out / name).stat().st_mode & 0o777 for name in read_tree(out)}
    assert modes == dict.fromkeys(
        ["shop-web-1/control/k", "shop-web-1/control/t", "shop-web-1/log/run", "shop-web-1/run"],
        0o755,
    )
    preview = procexport("runit", cwd=app).stdout
    assert [line for line in preview.splitlines() if line.startswith("==> ")][-1] == (
        "==> shop-web-1/run <=="
    )
    for name in modes:
        lines = (out / name).read_text().splitlines()
        assert lines[0] == "#!/bin/sh"
        assert lines[1].startswith("# Generated by procexport from Procfile")


def test_a_hand_edited_run_script_is_refused_until_force(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "out"
    export(procexport, app, out)
    run = out / "shop-web-1/run"
    run.write_text(run.read_text() + "# tuned\n")
    before = snapshot(out)
    result = procexport("runit", str(out), "-u", "root", "--timeout", "9", cwd=app)
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: {run}: refusing to overwrite a file that was edited since "
        "procexport wrote it (use --force to discard the edit)\n"
    )
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("user", "group", "argument"),
    [
        ("shop", None, "shop"),
        ("shop", "staff", "shop:staff"),
        ("1000", "1000", ":1000:1000"),
    ],
)
def test_chpst_gets_names_or_both_ids(procexport, tmp_path, user, group, argument):
    formation = {"user": user} | ({"group": group} if group else {})
    app = write_app(tmp_path / "shop", "web: serve\n", formation)
    result = procexport("runit", cwd=app)
    assert f"exec chpst -P -u {argument} env -i" in result.stdout
    assert f"exec chpst -u {argument} svlogd" in result.stdout
    owner = f"{user}:{group or ''}"
    assert f"&& chown {owner} ./main ||" in result.stdout


@pytest.mark.parametrize(("user", "group"), [("1000", None), ("1000", "staff"), ("shop", "50")])
def test_an_account_chpst_cannot_name_is_refused(procexport, tmp_path, user, group):
    formation = {"user": user} | ({"group": group} if group else {})
    app = write_app(tmp_path / "shop", "web: serve\n", formation)
    result = procexport("runit", cwd=app)
    assert result.status == 2
    assert result.stderr.startswith(f"procexport: error: runit cannot run as user {user!r}")


def test_readme_lists_the_runit_messages():
    readme = (REPO / "README.md").read_text()
    assert "runit cannot run as user 'U' (and group 'G'): chpst takes a user and group" in readme
    assert "runsv still runs this instance (pid N) and needs its control/t to stop it: run" in (
        readme
    )


# Generated inputs through the real run and log/run scripts, as /bin/sh reads them, with the
# shell replaced by a recorder: a command is compared, never executed.
SHELL_TEXT = "'\"%$\\;# \t`!&|<>(){}[]*?~=,:@éñ☃日\u200b\x07\x1b\x7fab"
VALUES = st.text(alphabet=SHELL_TEXT + "\n\r\x0b\x0c", max_size=24)
COMMANDS = st.text(alphabet=SHELL_TEXT, max_size=24).map(str.strip).filter(bool)
DIRS = st.text(alphabet="ab %'\"$\\;#é\t-\n", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
RECORDER = """#!{python}
import json, os, sys
if sys.argv[1:3] == ["-c", {source!r}]:  # --env-mode file: the shell sources, then runs us
    os.execv("/bin/sh", ["/bin/sh", *sys.argv[1:]])
with open({out!r}, "w") as out:
    json.dump({{"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}}, out)
"""


@needs_root
@settings(max_examples=int(os.environ.get("PROCEXPORT_PROPERTY_EXAMPLES", "30")))
@given(
    command=COMMANDS,
    env=st.dictionaries(st.sampled_from(["A", "B_2", "PATH", "PORT", "PS"]), VALUES, max_size=3),
    root=DIRS,
    log=DIRS,
    file_mode=st.booleans(),
)
def test_run_scripts_deliver_any_command_value_root_and_log_exactly(
    command, env, root, log, file_mode
):
    base = Path(tempfile.mkdtemp(prefix="runit-prop-"))
    try:
        recorder = base / "recorder"
        recorder.write_text(
            RECORDER.format(
                python=sys.executable, out=str(base / "got.json"), source=SOURCE_THEN_RUN
            )
        )
        recorder.chmod(0o755)
        (base / root).mkdir()
        formation = {"app": "app", "root": str(base / root), "log": str(base / log)}
        formation |= {"shell": str(recorder), "user": "root"}
        if file_mode:
            formation["env_mode"] = "file"
            env.pop("PORT", None)  # in a .env file, PORT is the base port: a number
            dotenv = "".join(dotenv_line(k, v) for k, v in env.items())
        else:
            formation["env"] = env
            dotenv = ""
        app = write_app(base / "app", f"web: {command}\n", formation, dotenv)
        out = base / "out"
        result = helpers.export(helpers.run_in_process, app, "runit", out)
        assert result.status == 0, result.stderr
        service = out / "app-web-1"
        runsv_env = {"PATH": "/usr/bin:/bin", "LEAK": "x"}
        subprocess.run(["/bin/sh", "./run"], cwd=service, env=runsv_env, check=True, timeout=30)
        got = json.loads((base / "got.json").read_text())
        assert got["argv"] == [str(recorder), "-c", command]
        wanted = {"PATH": runsv_env["PATH"]} | {
            k: v for k, v in env.items() if k not in ("PORT", "PS")
        }
        # PWD, SHLVL, _: the shell's; LC_CTYPE: Python's locale coercion (PEP 538), in the C locale
        ignored = ("PWD", "SHLVL", "_", "LC_CTYPE")
        assert {k: v for k, v in got["env"].items() if k not in ignored} == (
            wanted | {"PORT": "5000", "PS": "web.1"}
        )
        assert got["cwd"] == str(base / root)
        subprocess.run(
            ["/bin/sh", "./run"],
            cwd=service / "log",
            env=runsv_env,
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=30,
        )
        assert (base / log / "app-web-1" / "current").exists()
    finally:
        shutil.rmtree(base)


def test_apps_with_prefix_names_in_one_directory_never_touch_each_other(procexport, tmp_path):
    out = tmp_path / "out"
    apps = {
        name: write_app(tmp_path / name, "web: serve\nworker: work\n")
        for name in ("shop", "shopify", "shop-web")
    }
    for app in apps.values():
        export(procexport, app, out, "-m", "all=2")
    others = {k: v for k, v in snapshot(out).items() if k.startswith(("shopify", "shop-web-web"))}
    others |= {k: v for k, v in snapshot(out).items() if ".shopify." in k or ".shop-web." in k}
    export(procexport, apps["shop"], out, "-m", "web=1,worker=0")
    after = snapshot(out)
    assert {k: after.get(k) for k in others} == others
    assert not [k for k in after if k.startswith(("shop-web-2", "shop-worker"))]


@needs_root
def test_the_release_phase_runs_once_on_sv_once_and_is_never_restarted(procexport, tmp_path):
    app = write_app(
        tmp_path / "rel",
        f"release: {PROBE_COMMAND} release\nweb: {PROBE_COMMAND} web --wait\n",
        {"env": {"PROBE_WAIT": "1", "PROBE_OUT": str(tmp_path / "probe-{PS}.jsonl")}},
    )
    out = tmp_path / "out"
    summary = export(procexport, app, out)
    assert "  sv once /etc/service/rel-release\n" in summary
    assert (out / "rel-release/down").exists()
    released = tmp_path / "probe-release.1.jsonl"
    with Runsvdir(*services(out)) as runsvdir:
        records(tmp_path / "probe-web.1.jsonl", 1)  # the app runs; the release waits for sv once
        assert not released.exists()
        release = str(runsvdir.dir / "rel-release")
        ok = runsvdir.dir / "rel-release/supervise/ok"
        wait_until(ok.exists, "runsv of the release")
        runsvdir.sv("once", release)
        (record,) = records(released, 1)
        assert record["argv"] == ["release"] and record["env"]["PS"] == "release.1"
        # runsv restarts a finished service after about a second; `once` never does
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert len(raw_records(released)) == 1
            time.sleep(0.2)


def test_uninstall_unlinks_the_services_and_deletes_what_runsv_left(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "out"
    export(procexport, app, out)
    (out / "shop-web-1" / "supervise").mkdir()  # runsv's state, which is not ours to remove
    (out / "shop-web-1" / "supervise" / "pid").write_text("")
    result = procexport("runit", str(out), "-u", "root", "--uninstall", cwd=app)
    assert result.status == 0, result.stderr
    assert result.stderr.endswith(
        f"next:\n  rm -f /etc/service/shop-web-1\n  rm -rf {out}/shop-web-1\n"
    )
    assert [p.name for p in (out / "shop-web-1").iterdir()] == ["supervise"]


def test_a_fifo_in_place_of_runsvs_pid_file_is_not_waited_on(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "out"
    export(procexport, app, out, "-m", "web=2")
    (out / "shop-web-2" / "supervise").mkdir()
    os.mkfifo(out / "shop-web-2" / "supervise" / "pid")
    export(procexport, app, out, "-m", "web=1")  # would hang reading the FIFO
    assert not (out / "shop-web-2" / "run").exists()
