"""systemd-user output, checked by a user manager's own parser: `systemd --test --user`
(the nasty commands and values share their test with systemd, in test_systemd.py)."""

from __future__ import annotations

import os
from pathlib import Path

import helpers
import pytest
import systemd_oracle
from helpers import NASTY_COMMANDS, expected_port, run_probe, sh_c_reference, write_app
from test_errors import _stable_part
from test_systemd import expected_env, nasty_app

from exporter.formats import get_format

pytestmark = pytest.mark.skipif(
    not systemd_oracle.available() and not os.environ.get("CI"),
    reason="systemd is not installed (CI installs it)",
)


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, "systemd-user", out, *args, quiet=False).files


def test_the_process_a_user_manager_would_start_receives_what_sh_c_gives(procexport, tmp_path):
    app = nasty_app(tmp_path)
    files = export(procexport, app, tmp_path / "u")
    units, _ = systemd_oracle.load_units(files, "nasty.target", user=True)
    probe_out = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        unit = units[f"nasty-{name}@1.service"]
        argv = systemd_oracle.substitute_variables(unit.exec_start[0], unit.environment)
        got = run_probe(argv, unit.environment, Path(unit.get("WorkingDirectory")), probe_out)
        want = sh_c_reference(command, expected_env(name, expected_port(index)), app, probe_out)
        assert got == want, name
        assert got, name


def test_the_user_layout_is_the_system_layout_without_accounts_wanted_by_default_target(
    procexport, tmp_path
):
    app = write_app(
        tmp_path / "shop",
        "web: serve\nworker: work\n",
        {"app": "shop", "process": {"worker": {"stop_signal": "QUIT", "timeout": 120}}},
    )
    user = export(procexport, app, tmp_path / "user", "-m", "web=2,worker=1", "-l", "/tmp/l")
    system = export(procexport, app, tmp_path / "system", "-m", "web=2,worker=1", "-l", "/tmp/l")
    assert sorted(user) == sorted(system)
    for name, text in system.items():
        expected = text.replace("User=shop\n", "").replace(
            "WantedBy=multi-user.target", "WantedBy=default.target"
        )
        assert user[name] == expected, name
    assert "WantedBy=default.target\n" in user["shop.target"]
    units, warnings = systemd_oracle.load_units(user, "shop.target", user=True)
    assert warnings == []
    worker = units["shop-worker@1.service"]
    assert (worker.get("KillSignal"), worker.get("TimeoutStopSec")) == ("SIGQUIT", "2min")
    assert units["shop-web@2.service"].environment == {"PORT": "5001", "PS": "web.2"}
    assert worker.get("StandardOutputFileToAppend") == "/tmp/l/shop-worker-1.log"


def test_env_files_are_shared_with_the_system_format(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n", {"app": "shop"}, "SECRET='a b'\n")
    files = export(procexport, app, tmp_path / "u", "--env-mode", "file")
    assert f"EnvironmentFile={tmp_path / 'u' / 'shop.env'}\n" in files["shop-web@.service"]
    assert (tmp_path / "u" / "shop.env").stat().st_mode & 0o777 == 0o600
    assert "SECRET" not in files["shop-web@.service"]


REFUSED = (
    "systemd-user units run as the user whose manager (systemctl --user) loads them and "
    "cannot switch to another account; remove the setting or use the systemd format"
)
ACCOUNT_CASES = [
    ("option-user", None, ["-u", "bob"], f"--user 'bob': {REFUSED}"),
    ("file-user", {"app": "shop", "user": "bob"}, [], f"formation.toml:2: user 'bob': {REFUSED}"),
    (
        "file-group",
        {"app": "shop", "group": "staff"},
        [],
        f"formation.toml:2: group 'staff': {REFUSED}",
    ),
    (
        "process-user",
        {"app": "shop", "process": {"web": {"user": "www"}}},
        [],
        f"formation.toml:4: process.web.user 'www': {REFUSED}",
    ),
    (
        "process-group",
        {"app": "shop", "process": {"web": {"group": "www"}}},
        [],
        f"formation.toml:4: process.web.group 'www': {REFUSED}",
    ),
]


@pytest.mark.parametrize(
    ("formation", "args", "message"),
    [case[1:] for case in ACCOUNT_CASES],
    ids=[case[0] for case in ACCOUNT_CASES],
)
def test_an_explicit_user_or_group_is_refused_naming_where_it_was_set(
    procexport, tmp_path, formation, args, message
):
    app = write_app(tmp_path / "shop", "web: serve\n", formation)
    result = procexport("systemd-user", str(tmp_path / "u"), "-a", "shop", *args, cwd=app)
    assert (result.status, result.stderr, result.stdout) == (
        2,
        f"procexport: error: {message}\n",
        "",
    )
    assert not (tmp_path / "u").exists()
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert _stable_part(message) in readme


def test_next_steps_use_the_user_manager_and_mention_lingering(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "u"
    first = procexport("systemd-user", str(out), "-a", "shop", cwd=app)
    assert first.status == 0, first.stderr
    assert first.stderr.splitlines()[1:] == [
        "next:",
        "  systemctl --user daemon-reload",
        "  systemctl --user enable --now shop.target",
        '  loginctl enable-linger "$USER"  # or they stop when you log out',
    ]
    second = procexport("systemd-user", str(out), "-a", "shop", "-m", "web=1", cwd=app)
    assert "  systemctl --user stop shop-worker.target shop-worker@1.service\n" in second.stderr
    assert get_format("systemd-user").next_steps("shop", [], str(out)) == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now shop.target",
        'loginctl enable-linger "$USER"  # or they stop when you log out',
    ]


def test_the_release_unit_runs_as_the_managers_user_too(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "release: migrate\nweb: serve\n", {"app": "shop"})
    files = export(procexport, app, tmp_path / "u")
    units, warnings = systemd_oracle.load_units(files, "shop.target", user=True)
    assert warnings == []
    release = units["shop-release.service"]
    assert "User" not in release.properties and "Group" not in release.properties
    assert release.exec_start == [["/bin/sh", "-c", "migrate"]]


def test_an_account_for_the_release_phase_is_refused_too(procexport, tmp_path):
    formation = {"app": "shop", "process": {"release": {"user": "www"}}}
    app = write_app(tmp_path / "shop", "release: migrate\nweb: serve\n", formation)
    result = procexport("systemd-user", str(tmp_path / "u"), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert (
        result.stderr
        == f"procexport: error: formation.toml:4: process.release.user 'www': {REFUSED}\n"
    )
    assert not (tmp_path / "u").exists()
