"""The release phase: runs once per start of the app, before the others, never restarted
after success; checked per format through the real parsers."""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path

import pytest
import systemd_oracle
from conftest import read_tree, write_app

needs_systemd = pytest.mark.skipif(
    not systemd_oracle.available() and not os.environ.get("CI"),
    reason="systemd is not installed (CI installs it)",
)

PROCFILE = "web: serve\nrelease: ./migrate 100% $PS\nworker: work\n"


def export(procexport, app: Path, out: Path, format_name: str, *args: str) -> dict[str, str]:
    result = procexport(format_name, str(out), "-q", *args, cwd=app)
    assert result.status == 0, result.stderr
    return read_tree(out)


def release_app(tmp_path: Path, procfile: str = PROCFILE, **formation) -> Path:
    return write_app(tmp_path / "shop", procfile, {"app": "shop"} | formation)


# systemd -----------------------------------------------------------------------------------


@needs_systemd
def test_systemd_release_is_a_oneshot_that_every_instance_requires_and_follows(
    procexport, tmp_path
):
    app = release_app(tmp_path, formation={"web": 2, "worker": 1})
    files = export(procexport, app, tmp_path / "u", "systemd", "-l", "/var/log/shop")
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    release = units["shop-release.service"]
    assert (release.get("Type"), release.get("RemainAfterExit"), release.get("Restart")) == (
        "oneshot",
        "yes",
        "no",
    )
    assert release.get("TimeoutStartSec") == "infinity"  # a long migration is not cut off
    assert release.exec_start == [["/bin/sh", "-c", "./migrate 100% $$PS"]]
    assert (release.environment["PS"], release.environment["PORT"]) == ("release.1", "5100")
    assert release.properties["PartOf"] == ["shop.target (origin-file)"]
    assert release.get("StandardOutputFileToAppend") == "/var/log/shop/shop-release.log"
    assert "shop-release.service (origin-file)" in units["shop.target"].properties["Wants"]
    instances = ["shop-web@1.service", "shop-web@2.service", "shop-worker@1.service"]
    for name in instances:
        unit = units[name]
        assert "shop-release.service (origin-file)" in unit.properties["Requires"], name
        assert "shop-release.service (origin-file)" in unit.properties["After"], name
    # systemd's own view from the other side: the release is required by and ordered before
    # exactly the instances, and it is no template instance itself.
    assert sorted(release.properties["RequiredBy"]) == [
        f"{n} (destination-file)" for n in instances
    ]
    assert {f"{n} (destination-file)" for n in instances} <= set(release.properties["Before"])
    assert not any(name.startswith("shop-release@") for name in units)


@needs_systemd
def test_systemd_release_is_not_rerun_by_a_crash_restart_but_by_a_restart_of_the_app(
    procexport, tmp_path
):
    """What systemd does with these dependencies (systemd.unit(5), systemd.service(5)):

    - The automatic restart of a crashed web@2 is a start job for web@2, whose Requires=
      enqueues a start job for the release unit. RemainAfterExit=yes keeps a succeeded
      oneshot `active (exited)`, and a start job on an active unit does nothing: the
      migration is not rerun. (With RemainAfterExit=no it would be inactive again and run.)
    - `systemctl restart shop.target` propagates to every unit PartOf= it: the release unit
      (PartOf=shop.target) is stopped and started, so it runs again, and the instances
      (PartOf their type target, which is PartOf shop.target) start only after it succeeded,
      because of After=.
    - A failed release fails the instances' start jobs (Requires= + After=: "dependency").
    """
    app = release_app(tmp_path)
    files = export(procexport, app, tmp_path / "u", "systemd")
    units, _ = systemd_oracle.load_units(files, "shop.target")
    release = units["shop-release.service"]
    assert release.get("RemainAfterExit") == "yes"
    assert release.properties["PartOf"] == ["shop.target (origin-file)"]
    web_target = units["shop-web.target"]
    assert web_target.properties["PartOf"] == ["shop.target (origin-file)"]
    assert units["shop-web@1.service"].properties["PartOf"] == ["shop-web.target (origin-file)"]
    # the instances' restarts go through the restart policy, the release has none
    assert units["shop-web@1.service"].get("Restart") == "always"
    assert release.get("Restart") == "no"


@needs_systemd
def test_systemd_without_a_release_needs_nothing_extra(procexport, tmp_path):
    app = release_app(tmp_path, formation={"release": 0})
    files = export(procexport, app, tmp_path / "u", "systemd")
    assert "shop-release.service" not in files
    assert not any("shop-release" in text for text in files.values())
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    assert "shop-release.service" not in units


@needs_systemd
def test_systemd_release_with_only_the_release_running(procexport, tmp_path):
    app = release_app(tmp_path)
    files = export(procexport, app, tmp_path / "u", "systemd", "-m", "all=0")
    assert sorted(files) == ["shop-release.service", "shop.target"]
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    assert units["shop-release.service"].get("Type") == "oneshot"


def test_systemd_next_steps_stop_a_removed_release(procexport, tmp_path):
    app = release_app(tmp_path)
    out = tmp_path / "u"
    export(procexport, app, out, "systemd")
    result = procexport("systemd", str(out), "-m", "release=0", cwd=app)
    assert result.status == 0, result.stderr
    assert "systemctl stop shop-release.service" in result.stderr


# supervisord -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 1])
def test_supervisord_starts_the_release_once_first_and_never_again(procexport, tmp_path, status):
    """A real supervisord for 5 s: the release program starts exactly once, before the
    others, and is not restarted whether it succeeded or failed, while web keeps running."""
    from supervisor_harness import Supervisor, load_programs

    runs = tmp_path / "runs"
    app = write_app(
        tmp_path / "shop",
        f'web: sleep 1000\nrelease: echo "$PS" >> "$RUNS"; exit {status}\n',
        {"app": "shop", "env": {"RUNS": str(runs)}},
    )
    export(procexport, app, tmp_path / "out", "supervisord", "-u", getpass.getuser())
    conf = tmp_path / "out" / "shop.conf"
    loaded = load_programs(conf)
    release, web = loaded["shop-release"], loaded["shop-web-1"]
    assert (release.autorestart, release.startsecs, release.startretries) == (False, 0, 0)
    assert release.priority < web.priority
    with Supervisor(conf) as supervisor:
        started = time.monotonic()
        supervisor.wait_for({"shop:shop-web-1"}, "RUNNING", timeout=30)
        supervisor.wait_for({"shop:shop-release"}, "EXITED", timeout=30)
        time.sleep(max(0.0, 5 - (time.monotonic() - started)))  # watch: nothing may happen
        states = supervisor.status()
        log = (supervisor.home / "supervisord.log").read_text()
    assert states == {"shop:shop-release": "EXITED", "shop:shop-web-1": "RUNNING"}
    assert runs.read_text() == "release.1\n"
    assert log.count("spawned: 'shop-release'") == 1
    assert log.index("spawned: 'shop-release'") < log.index("spawned: 'shop-web-1'")
