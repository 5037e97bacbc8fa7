"""systemd output, checked by systemd itself: `systemd --test` and `systemd-analyze verify`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import helpers
import pytest
import systemd_oracle
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    dotenv_line,
    expected_port,
    read_tree,
    run_probe,
    sh_c_reference,
    write_app,
)

pytestmark = pytest.mark.skipif(
    not systemd_oracle.available() and not os.environ.get("CI"),
    reason="systemd is not installed (CI installs it)",
)


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, "systemd", out, *args, quiet=False).files


def nasty_app(tmp_path: Path) -> Path:
    procfile = "".join(f"{name}: {command}\n" for name, command in NASTY_COMMANDS.items())
    dotenv = "".join(dotenv_line(name, value) for name, value in NASTY_VALUES.items())
    formation = {
        "app": "nasty",
        "env": {"FROM_TOML": "toml %i $X \\ \"q\" 'q'"},
        "process": {"quotes": {"env": {"PLAIN": "overridden for quotes"}}},
    }
    return write_app(tmp_path / "nasty", procfile, formation, dotenv)


def expected_env(type_name: str, port: int) -> dict[str, str]:
    env = dict(NASTY_VALUES) | {"FROM_TOML": "toml %i $X \\ \"q\" 'q'"}
    if type_name == "quotes":
        env["PLAIN"] = "overridden for quotes"
    return env | {"PORT": str(port), "PS": f"{type_name}.1"}


@pytest.mark.parametrize("fmt", ["systemd", "systemd-user"])
def test_systemd_parses_every_command_and_value_exactly_as_written(procexport, tmp_path, fmt):
    """The system manager's parser, and (systemd-user) a user manager's: `--test --user`."""
    app = nasty_app(tmp_path)
    result = procexport(fmt, str(tmp_path / "units"), cwd=app)
    assert result.status == 0, result.stderr
    files = read_tree(tmp_path / "units")
    user_manager = fmt == "systemd-user"
    units, warnings = systemd_oracle.load_units(files, "nasty.target", user=user_manager)
    assert warnings == []
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        unit = units[f"nasty-{name}@1.service"]
        assert unit.environment == expected_env(name, expected_port(index)), name
        (argv,) = unit.exec_start
        assert systemd_oracle.substitute_variables(argv, unit.environment) == [
            "/bin/sh",
            "-c",
            command,
        ], name
        assert unit.get("WorkingDirectory") == str(app)
        if user_manager:  # a user manager runs every unit as its own user
            assert "User" not in unit.properties
            assert "Group" not in unit.properties
        else:
            assert unit.get("User") == "nasty"


def test_the_process_systemd_would_start_receives_what_sh_c_gives(procexport, tmp_path):
    app = nasty_app(tmp_path)
    units, _ = systemd_oracle.load_units(export(procexport, app, tmp_path / "u"), "nasty.target")
    probe_out = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        unit = units[f"nasty-{name}@1.service"]
        argv = systemd_oracle.substitute_variables(unit.exec_start[0], unit.environment)
        got = run_probe(argv, unit.environment, Path(unit.get("WorkingDirectory")), probe_out)
        env = expected_env(name, expected_port(index))
        want = sh_c_reference(command, env, app, probe_out)
        assert got == want, name
        assert got, name


def test_units_pass_systemd_analyze_verify_without_a_warning(procexport, tmp_path):
    app = nasty_app(tmp_path)
    out = tmp_path / "units"
    files = export(procexport, app, out, "-m", "all=2", "--log", "/var/log/nasty")
    paths = [str(out / name) for name in files if name.endswith(".target")]
    paths += [
        str(out / name.removesuffix(".d/instance.conf"))
        for name in files
        if name.endswith(".d/instance.conf")
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_the_chain_app_target_type_target_instances_is_what_systemd_loads(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\nclock: tick\n")
    files = export(procexport, app, tmp_path / "u", "-m", "web=2,worker=1")
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    assert sorted(units["shop.target"].properties["Wants"]) == [
        "shop-web.target (origin-file)",
        "shop-worker.target (origin-file)",
    ]
    assert units["shop-web.target"].properties["PartOf"] == ["shop.target (origin-file)"]
    assert sorted(units["shop-web.target"].properties["Wants"]) == [
        "shop-web@1.service (origin-file)",
        "shop-web@2.service (origin-file)",
    ]
    web2 = units["shop-web@2.service"]
    assert web2.properties["PartOf"] == ["shop-web.target (origin-file)"]
    assert (web2.environment["PORT"], web2.environment["PS"]) == ("5001", "web.2")
    assert units["shop-worker@1.service"].environment["PORT"] == "5100"
    assert not any(name.startswith("shop-clock") for name in units)


def test_service_settings_reach_systemd(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: serve\nworker: work\n",
        {
            "app": "shop",
            "group": "staff",
            "process": {"worker": {"stop_signal": "QUIT", "timeout": 120}},
        },
    )
    root = "/srv/we ird %d$x 'q\" ü\\z"
    files = export(procexport, app, tmp_path / "u", "-d", root, "-l", "/var/log/my app%n")
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    web, worker = units["shop-web@1.service"], units["shop-worker@1.service"]
    assert web.get("WorkingDirectory") == root
    assert (web.get("User"), web.get("Group")) == ("shop", "staff")
    assert (web.get("KillMode"), web.get("KillSignal"), web.get("TimeoutStopSec")) == (
        "control-group",
        "SIGTERM",
        "30s",
    )
    assert (worker.get("KillSignal"), worker.get("TimeoutStopSec")) == ("SIGQUIT", "2min")
    assert web.get("Restart") == "always"
    assert web.get("StandardOutput") == "append"
    assert web.get("StandardOutputFileToAppend") == "/var/log/my app%n/shop-web-1.log"


def test_journald_is_the_default_log(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    files = export(procexport, app, tmp_path / "u")
    units, _ = systemd_oracle.load_units(files, "shop.target")
    assert units["shop-web@1.service"].get("StandardOutput") == "journal"
    assert "SyslogIdentifier=shop-web.%i" in files["shop-web@.service"]


@pytest.mark.parametrize(
    "root", ["/srv/new\nline", "/srv/trailing ", "/srv/tab\t", "/srv/continues\\"]
)
def test_a_root_systemd_cannot_carry_is_refused(procexport, tmp_path, root):
    app = write_app(tmp_path / "a", "web: serve\n")
    result = procexport("systemd", "-a", "x", "-d", root, cwd=app)
    assert result.status == 2
    assert "systemd cannot carry the path" in result.stderr
    assert result.stdout == ""


def test_a_procfile_path_with_a_line_break_stays_inside_the_header_comment(procexport, tmp_path):
    write_app(tmp_path / "odd\ndir", "web: serve\n")
    args = ["-q", "-a", "odd", "-d", "/srv/odd", "-f", "odd\ndir/Procfile"]
    result = procexport("systemd", str(tmp_path / "u"), *args, cwd=tmp_path)
    assert result.status == 0, result.stderr
    files = read_tree(tmp_path / "u")
    assert files["odd.target"].startswith("# Generated by procexport from odd\\ndir/Procfile;")
    units, warnings = systemd_oracle.load_units(files, "odd.target")
    assert warnings == []
    assert units["odd-web@1.service"].get("WorkingDirectory") == "/srv/odd"
