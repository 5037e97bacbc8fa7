"""launchd output: every property list read back with plistlib, then run the way launchd runs
a job (ProgramArguments exec'd with exactly EnvironmentVariables in WorkingDirectory, no shell
of launchd's own, as a process group of its own), compared with `sh -c COMMAND`."""

from __future__ import annotations

import contextlib
import os
import plistlib
import re
import signal
import subprocess
import time
from pathlib import Path

import helpers
import pytest
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    PROBE_COMMAND,
    dotenv_line,
    expected_port,
    raw_records,
    run_probe,
    sh_c_reference,
    write_app,
)
from hypothesis import given
from hypothesis import strategies as st
from test_errors import _stable_part

from exporter.errors import ExportError
from exporter.formation import EnvVar, ProcessType, Setting
from exporter.formats import FileChange, RenderContext, get_format
from exporter.formats.launchd import forward_stop_signal, render_launchd
from exporter.plan import Instance, Plan, Process

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# What XML 1.0 cannot carry, or its parsers give back changed: launchd refuses these.
UNCARRIED = {"CR", "CONTROL"}
XML_VALUES = {
    "MARKUP": '<a href="x">&amp; &#13; ]]> <![CDATA[x]]> <!-- c --> </string>',
    "ENTITY": "&lt;&gt;&quot;&apos;&",
    "LEADING_NEWLINE": "\nvalue\n",
    "ONLY_SPACES": "   ",
    "EMOJI": "\U0001f600 \u2028 \u0085 \ufeff \x7f",
}
TOML_VALUE = "toml %i $X \\ \"q\" 'q' <&> ]]>"


def load(text: str) -> dict:
    return plistlib.loads(text.encode("utf-8"))


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, "launchd", out, *args, quiet=False).files


def nasty_app(tmp_path: Path) -> tuple[Path, Path]:
    """The nasty commands and values, with a root whose name is XML-hostile too."""
    procfile = "".join(f"{name}: {command}\n" for name, command in NASTY_COMMANDS.items())
    values = {k: v for k, v in NASTY_VALUES.items() if k not in UNCARRIED} | XML_VALUES
    dotenv = "".join(dotenv_line(name, value) for name, value in values.items())
    formation = {
        "app": "nasty",
        "env": {"FROM_TOML": TOML_VALUE},
        "process": {"quotes": {"env": {"PLAIN": "overridden for quotes"}}},
    }
    root = tmp_path / "r<o>ot & ]]> 'it's' \"q\" $HOME %i ü"
    root.mkdir()
    return write_app(tmp_path / "nasty", procfile, formation, dotenv), root


def expected_env(type_name: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in NASTY_VALUES.items() if k not in UNCARRIED} | XML_VALUES
    env |= {"FROM_TOML": TOML_VALUE}
    if type_name == "quotes":
        env["PLAIN"] = "overridden for quotes"
    return env | {"PORT": str(port), "PS": f"{type_name}.1"}


def test_every_plist_reads_back_as_exactly_the_job_launchd_should_run(procexport, tmp_path):
    app, root = nasty_app(tmp_path)
    log = tmp_path / "lo<g> & ]]>"
    files = export(procexport, app, tmp_path / "out", "-d", str(root), "-l", str(log))
    assert sorted(files) == sorted(f"nasty-{name}-1.plist" for name in NASTY_COMMANDS)
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        label = f"nasty-{name}-1"
        assert load(files[f"{label}.plist"]) == {
            "Label": label,
            "ProgramArguments": ["/bin/sh", "-c", forward_stop_signal("TERM"), "/bin/sh", command],
            "EnvironmentVariables": expected_env(name, expected_port(index)),
            "WorkingDirectory": str(root),
            "KeepAlive": True,
            "RunAtLoad": True,
            "ExitTimeOut": 30,
            "ThrottleInterval": 5,  # restart_delay's default
            "StandardOutPath": f"{log}/{label}.log",
            "StandardErrorPath": f"{log}/{label}.log",
        }, name
        assert (tmp_path / "out" / f"{label}.plist").stat().st_mode & 0o777 == 0o644


def test_the_process_launchd_would_start_receives_what_sh_c_gives(procexport, tmp_path):
    app, root = nasty_app(tmp_path)
    files = export(procexport, app, tmp_path / "out", "-d", str(root))
    probe_out = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        job = load(files[f"nasty-{name}-1.plist"])
        env = job["EnvironmentVariables"]
        got = run_probe(job["ProgramArguments"], env, job["WorkingDirectory"], probe_out)
        want = sh_c_reference(command, expected_env(name, expected_port(index)), root, probe_out)
        assert got == want, name
        assert got, name


def test_the_generated_by_comment_is_the_second_line_and_cannot_end_early(procexport, tmp_path):
    write_app(tmp_path / "a--b-->\nc", "web: serve\n")
    args = ["-q", "-a", "odd", "-d", "/srv/odd", "-f", "a--b-->\nc/Procfile"]
    result = procexport("launchd", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert result.status == 0, result.stderr
    text = (tmp_path / "out" / "odd-web-1.plist").read_text()
    lines = text.split("\n")
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1] == (
        "<!-- Generated by procexport from a-\\x2db-\\x2d>\\nc/Procfile; re-export rather "
        "than edit. -->"
    )
    assert lines[2].startswith("<!DOCTYPE plist")
    assert text.endswith("</plist>\n")
    assert load(text)["Label"] == "odd-web-1"


def test_accounts_timeout_and_instances_reach_the_plist(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: serve\nworker: work\n",
        {"app": "shop", "group": "staff", "process": {"worker": {"user": "q", "timeout": 120}}},
    )
    files = export(procexport, app, tmp_path / "out", "-m", "web=2,worker=1")
    web2, worker = load(files["shop-web-2.plist"]), load(files["shop-worker-1.plist"])
    assert (web2["Label"], web2["EnvironmentVariables"]) == (
        "shop-web-2",
        {"PORT": "5001", "PS": "web.2"},
    )
    assert "UserName" not in web2  # the default user (the app name) is not written
    assert web2["GroupName"] == "staff"
    assert (worker["UserName"], worker["GroupName"], worker["ExitTimeOut"]) == ("q", "staff", 120)
    assert "StandardOutPath" not in worker
    alone = export(procexport, app, tmp_path / "alone", "-u", "svc")
    assert load(alone["shop-web-1.plist"])["UserName"] == "svc"


# --- the stop signal -----------------------------------------------------------------------


def start_like_launchd(job: dict, out: Path) -> subprocess.Popen:
    """Exec the job as launchd does: its own process group, exactly its environment."""
    env = job["EnvironmentVariables"] | {"PROBE_OUT": str(out), "PROBE_WAIT": "1"}
    return subprocess.Popen(
        job["ProgramArguments"], env=env, cwd=job["WorkingDirectory"], start_new_session=True
    )


def wait_for(predicate, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop_like_launchd(job: dict, out: Path) -> tuple[int, list[dict]]:
    """Start the job, wait for the waiting probe, send launchd's SIGTERM to the main process;
    the job's exit status and what the probe recorded."""
    main = start_like_launchd(job, out)
    try:
        wait_for(
            lambda: any("--wait" in r.get("argv", ()) for r in raw_records(out)),
            "the probe to start",
        )
        main.send_signal(signal.SIGTERM)
        status = main.wait(timeout=20)
        return status, raw_records(out)
    finally:  # whatever is left of the job's process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(main.pid, signal.SIGKILL)
        main.wait(timeout=10)


STOP_COMMANDS = {
    "simple": f"{PROBE_COMMAND} --wait",
    "compound": f"cd / && {PROBE_COMMAND} first && {PROBE_COMMAND} --wait; {PROBE_COMMAND} after",
    "assignment": f"FOO=1 {PROBE_COMMAND} --wait",
}


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
@pytest.mark.parametrize("stop_signal", ["QUIT", "INT", "HUP"])
@pytest.mark.parametrize("command", list(STOP_COMMANDS), ids=list(STOP_COMMANDS))
def test_launchds_sigterm_becomes_the_stop_signal_for_the_app(
    procexport, tmp_path, shell, stop_signal, command
):
    app = write_app(
        tmp_path / "shop",
        f"worker: {STOP_COMMANDS[command]}\n",
        {"app": "shop", "shell": shell, "process": {"worker": {"stop_signal": stop_signal}}},
    )
    job = load(export(procexport, app, tmp_path / "out")["shop-worker-1.plist"])
    assert job["ProgramArguments"] == [
        shell,
        "-c",
        forward_stop_signal(stop_signal),
        shell,
        STOP_COMMANDS[command],
    ]
    status, records = stop_like_launchd(job, tmp_path / "probe.jsonl")
    waiting = next(r for r in records if "--wait" in r.get("argv", ()))
    signals = [r for r in records if r["event"] == "signal"]
    assert signals == [{"event": "signal", "pid": waiting["pid"], "signal": f"SIG{stop_signal}"}]
    assert status in (0, 128 + getattr(signal, f"SIG{stop_signal}"))
    with pytest.raises(ProcessLookupError):  # the job ended only once the app had
        os.kill(waiting["pid"], 0)
    if not (shell == "/bin/sh" and stop_signal in ("INT", "QUIT")):  # dash: see README
        # what follows the stopped command never starts, as with `sh -c` killed by the signal
        assert not any("after" in r.get("argv", ()) for r in records)


def test_a_kill_stop_signal_ends_the_whole_job_at_once(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop",
        f"worker: cd / && {PROBE_COMMAND} --wait\n",
        {"app": "shop", "stop_signal": "KILL"},
    )
    job = load(export(procexport, app, tmp_path / "out")["shop-worker-1.plist"])
    status, records = stop_like_launchd(job, tmp_path / "probe.jsonl")
    assert status == -signal.SIGKILL
    waiting = next(r for r in records if "--wait" in r.get("argv", ()))
    wait_for(lambda: not os.path.exists(f"/proc/{waiting['pid']}"), "the app to end", 10)


def test_a_job_with_another_stop_signal_runs_the_command_as_sh_c_does(procexport, tmp_path):
    app, root = nasty_app(tmp_path)
    (app / "formation.toml").write_text(
        (app / "formation.toml").read_text() + "\n[process.dollar]\nstop_signal = 'USR1'\n"
    )
    files = export(procexport, app, tmp_path / "out", "-d", str(root))
    job = load(files["nasty-dollar-1.plist"])
    assert job["ProgramArguments"] == [
        "/bin/sh",
        "-c",
        forward_stop_signal("USR1"),
        "/bin/sh",
        NASTY_COMMANDS["dollar"],
    ]
    out = tmp_path / "probe.jsonl"
    got = run_probe(job["ProgramArguments"], job["EnvironmentVariables"], root, out)
    index = list(NASTY_COMMANDS).index("dollar")
    want = sh_c_reference(
        NASTY_COMMANDS["dollar"], expected_env("dollar", expected_port(index)), root, out
    )
    assert got == want


def test_the_default_stop_signal_reaches_the_app_as_launchds_own_sigterm(procexport, tmp_path):
    app = write_app(tmp_path / "shop", f"web: {PROBE_COMMAND} --wait\n")
    job = load(export(procexport, app, tmp_path / "out", "-a", "shop")["shop-web-1.plist"])
    assert job["ProgramArguments"][-1] == f"{PROBE_COMMAND} --wait"
    _, records = stop_like_launchd(job, tmp_path / "probe.jsonl")
    assert [r["signal"] for r in records if r["event"] == "signal"] == ["SIGTERM"]


# --- env files -------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", ["TERM", "QUIT"])
def test_env_mode_file_keeps_secrets_out_of_the_plist_and_the_job_reads_them(
    procexport, tmp_path, stop_signal
):
    # every value, CR and control characters too: the env file is not XML
    dotenv = "".join(dotenv_line(name, value) for name, value in NASTY_VALUES.items())
    formation = {"app": "shop", "stop_signal": stop_signal}
    procfile = "".join(f"{name}: {command}\n" for name, command in NASTY_COMMANDS.items())
    app = write_app(tmp_path / "shop", procfile, formation, dotenv)
    out = tmp_path / "out"
    files = export(procexport, app, out, "--env-mode", "file")
    assert (out / "shop.env").stat().st_mode & 0o777 == 0o600
    probe = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        job = load(files[f"shop-{name}-1.plist"])
        instance = {"PORT": str(expected_port(index)), "PS": f"{name}.1"}
        assert job["EnvironmentVariables"] == instance
        assert str(out / "shop.env") in job["ProgramArguments"]
        assert command in job["ProgramArguments"]
        got = run_probe(job["ProgramArguments"], job["EnvironmentVariables"], app, probe)
        want = sh_c_reference(command, NASTY_VALUES | instance, app, probe)
        assert got == want, name


# --- refusals --------------------------------------------------------------------------------

REFUSALS = [
    (
        "dotenv-cr",
        {".env": 'X="x\ry"\n'},
        [],
        "launchd cannot carry the value of X (.env:1): a property list is XML 1.0, which has "
        "no character '\\r' (no carriage return, no control character but tab and line feed, "
        "no surrogate, no U+FFFE or U+FFFF)",
    ),
    (
        "dotenv-control",
        {".env": 'X="ring\x07"\n'},
        [],
        "launchd cannot carry the value of X (.env:1): a property list is XML 1.0, "
        "which has no character '\\x07' (no carriage return, no control character but tab and "
        "line feed, no surrogate, no U+FFFE or U+FFFF)",
    ),
    (
        "command-noncharacter",
        {"Procfile": "T: serve \ufffe\n"},
        [],
        "launchd cannot carry the command of T 'serve \\ufffe': a property list is XML 1.0, "
        "which has no character '\\ufffe' (no carriage return, no control character but tab "
        "and line feed, no surrogate, no U+FFFE or U+FFFF)",
    ),
    (
        "root-surrogate",
        {},
        ["-d", "/srv/\udcff"],
        "launchd cannot carry the root directory '/srv/\\udcff': a property list is XML 1.0, "
        "which has no character '\\udcff' (no carriage return, no control character but tab "
        "and line feed, no surrogate, no U+FFFE or U+FFFF)",
    ),
]


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_what_a_property_list_cannot_carry_is_refused_naming_it(
    procexport, tmp_path, files, args, message
):
    app = write_app(tmp_path / "app", "web: serve\n")
    for name, content in files.items():
        (app / name).write_text(content)
    result = procexport("launchd", str(tmp_path / "out"), "-a", "app", *args, cwd=app)
    assert result.status == 2
    assert result.stderr == f"procexport: error: {message}\n"
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()
    assert "ring" not in result.stderr  # a .env value is a secret: never shown
    assert _stable_part(message) in README


# --- next steps ------------------------------------------------------------------------------


def test_next_steps_bootstrap_new_files_and_bootout_removed_or_changed_ones(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "Library" / "LaunchDaemons"
    first = procexport("launchd", str(out), "-a", "shop", "-m", "web=2,worker=1", cwd=app)
    assert first.stderr.splitlines()[1:] == [
        "next:",
        f"  launchctl bootstrap system {out}/shop-web-1.plist",
        f"  launchctl bootstrap system {out}/shop-web-2.plist",
        f"  launchctl bootstrap system {out}/shop-worker-1.plist",
    ]
    (app / "Procfile").write_text("web: serve --changed\nworker: work\n")
    second = procexport("launchd", str(out), "-a", "shop", "-m", "web=1,worker=1", cwd=app)
    assert second.stderr.splitlines()[1:] == [
        "next:",
        "  launchctl bootout system/shop-web-1",
        "  launchctl bootout system/shop-web-2",
        f"  launchctl bootstrap system {out}/shop-web-1.plist",
    ]


def test_a_launch_agent_is_loaded_into_the_users_gui_domain(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "my home" / "Library" / "LaunchAgents"
    result = procexport("launchd", str(out), "-a", "shop", cwd=app)
    assert result.stderr.splitlines()[2] == (
        f"  launchctl bootstrap gui/$(id -u) '{out}/shop-web-1.plist'"
    )
    removed = FileChange("removed", "shop-web-1.plist", "shop-web-1")
    steps = get_format("launchd").next_steps("shop", [removed], str(out))
    assert steps == ["launchctl bootout gui/$(id -u)/shop-web-1"]


# --- the property: whatever the input, the file carries it exactly or it is refused --------

_XML_CHAR = re.compile("[\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def one_process_plan(command: str, value: str, root: str, procfile: str, log: str) -> Plan:
    ptype = ProcessType(
        name="web",
        command=command,
        count=1,
        user="svc",
        group=None,
        port=5000,
        timeout=30,
        stop_signal="TERM",
        env=(EnvVar("VALUE", value, "test"),),
        user_setting=Setting("--user"),
    )
    process = Process(ptype, (Instance("web", 1, 5000, "app"),), "app")
    return Plan("app", procfile, root, "/bin/sh", log, (process,))


# Pieces that XML writers and readers trip over, mixed with any character at all.
XML_TRAPS = ["]]>", "<![CDATA[", "<!--", "-->", "--", "&amp;", "&#13;", "<", ">", "&", '"', "'"]
WHITE_AND_CONTROL = [" ", "\t", "\n", "\r", "\r\n", "\x00", "\x0b", "\x7f", "\x85", "\u2028"]
ODD_CODE_POINTS = ["\ud800", "\udcff", "\ufffe", "\uffff", "\ufeff", "\U0001f600", "$", "%", "\\"]
HOSTILE = st.lists(
    st.sampled_from([*XML_TRAPS, *WHITE_AND_CONTROL, *ODD_CODE_POINTS]) | st.characters(),
).map("".join)

# The same, keeping only what XML 1.0 carries: every such input must come back exactly.
CARRIED = (
    st.lists(
        st.sampled_from([*XML_TRAPS, *WHITE_AND_CONTROL, *ODD_CODE_POINTS]) | st.characters(),
    )
    .map("".join)
    .map(lambda s: "".join(_XML_CHAR.findall(s)))
)


@given(
    command=CARRIED.filter(bool),
    value=CARRIED,
    root=CARRIED.map(lambda s: "/" + s),
    procfile=HOSTILE.filter(bool),
)
def test_every_value_xml_can_carry_comes_back_from_plistlib_exactly(command, value, root, procfile):
    plan = one_process_plan(command, value, root, procfile, "/var/log/" + value[:5])
    job = load(render_launchd(plan, RenderContext(None, None))["app-web-1.plist"].text)
    assert job["ProgramArguments"][-1] == command
    assert job["EnvironmentVariables"] == {"VALUE": value, "PORT": "5000", "PS": "web.1"}
    assert job["WorkingDirectory"] == root
    assert job["StandardOutPath"] == f"/var/log/{value[:5]}/app-web-1.log"


@given(
    command=HOSTILE.filter(bool),
    value=HOSTILE,
    root=HOSTILE.map(lambda s: "/" + s),
    procfile=HOSTILE.filter(bool),
)
def test_every_value_survives_plistlib_exactly_or_is_refused(command, value, root, procfile):
    plan = one_process_plan(command, value, root, procfile, "/var/log/" + value[:5])
    carried = all(_XML_CHAR.fullmatch(s) for s in (command, value, root))
    try:
        files = render_launchd(plan, RenderContext(None, None))
    except ExportError as error:
        assert not carried, error
        assert "launchd cannot carry" in str(error)
        return
    assert carried
    text = files["app-web-1.plist"].text
    assert text.split("\n")[1].startswith("<!-- Generated by procexport from ")
    assert text.split("\n")[1].count("--") == 2  # opening and closing only
    job = load(text)
    assert job["ProgramArguments"] == [
        "/bin/sh",
        "-c",
        forward_stop_signal("TERM"),
        "/bin/sh",
        command,
    ]
    assert job["EnvironmentVariables"] == {"VALUE": value, "PORT": "5000", "PS": "web.1"}
    assert job["WorkingDirectory"] == root
    assert job["StandardOutPath"] == f"/var/log/{value[:5]}/app-web-1.log"
    assert job["UserName"] == "svc"


def test_the_release_phase_runs_once_when_loaded_and_the_restart_delay_throttles(
    procexport, tmp_path
):
    app = write_app(
        tmp_path / "app",
        "release: migrate\nweb: serve\n",
        {"app": "shop", "restart_delay": 7, "process": {"web": {"restart_delay": 2}}},
    )
    files = export(procexport, app, tmp_path / "out")
    assert sorted(files) == ["shop-release.plist", "shop-web-1.plist"]
    release, web = load(files["shop-release.plist"]), load(files["shop-web-1.plist"])
    assert (release["Label"], release["KeepAlive"], release["RunAtLoad"]) == (
        "shop-release",
        False,
        True,
    )
    assert release["ProgramArguments"][-1] == "migrate"
    assert release["ThrottleInterval"] == 7
    assert (web["KeepAlive"], web["ThrottleInterval"]) == (True, 2)
