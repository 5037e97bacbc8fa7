"""An export's options are checked in one place (exporter.export_options), once, before any
input file is read."""

from __future__ import annotations

import pytest

from exporter.errors import ExportError
from exporter.export_options import check_export_options
from exporter.formation import MAX_TIMEOUT, Options


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"options": Options(timeout=0)}, "--timeout 0: must be a whole number of seconds >= 1"),
        (
            {"options": Options(timeout=MAX_TIMEOUT + 1)},
            f"--timeout {MAX_TIMEOUT + 1}: at most {MAX_TIMEOUT} seconds",
        ),
        ({"location": ""}, "LOCATION is empty: give a value, or leave it out for the default"),
        ({"options": Options(env_files=("a", ""))}, "--env is empty: give a value"),
        ({"color": "pink"}, "--color 'pink': use auto, always or never"),
        ({"format_name": "cron"}, "unknown format 'cron': use one of systemd, "),
        ({"location": None, "dry_run": True}, "--dry-run needs a LOCATION to compare with"),
        ({"location": None, "destdir": "d"}, "--destdir needs a LOCATION: the directory"),
        ({"location": None, "manifest": "m"}, "--manifest needs a LOCATION: the directory"),
        ({"template": "nowhere/"}, "nowhere: --template: no such directory"),
        (
            {"format_name": "kubernetes", "template": "."},
            "--template: the kubernetes format has no templates to override",
        ),
        ({"location": None, "uninstall": True}, "--uninstall needs a LOCATION to remove"),
        ({"uninstall": True, "destdir": "d"}, "--uninstall removes an installed app: it takes"),
        ({"uninstall": True, "options": Options(app="../x")}, "invalid app name '../x'"),
        ({"options": Options(shell="bash")}, "--shell: must be an absolute path of letters"),
        ({"options": Options(env_mode="secret")}, "--env-mode 'secret': use inline or file"),
        ({"options": Options(port=0)}, "--port 0: must be between 1 and 65535"),
        ({"options": Options(port=65536)}, "--port 65536: must be between 1 and 65535"),
    ],
)
def test_each_bad_option_is_refused_with_its_message(arguments, expected):
    given = {"format_name": "systemd", "location": "out", "options": Options()} | arguments
    with pytest.raises(ExportError) as error:
        check_export_options(
            given.pop("format_name"), given.pop("location"), given.pop("options"), **given
        )
    assert str(error.value).startswith(expected)


def test_good_options_pass():
    options = Options(timeout=MAX_TIMEOUT, port=65535, env_mode="file", shell="/bin/bash")
    check_export_options("systemd", "out", options, dry_run=True, color="never")
    check_export_options("kubernetes", None, Options(image="app:1"))
    check_export_options("supervisord", "out", Options(app="shop"), uninstall=True)


def test_options_are_checked_before_any_input_is_read(procexport, tmp_path):
    (tmp_path / "Procfile").write_text("not a procfile line\n")
    (tmp_path / "formation.toml").write_text("[broken\n")
    for arguments, message in [
        (["-p", "0"], "--port 0: must be between 1 and 65535"),
        (["--env-mode", "x"], "--env-mode 'x': use inline or file"),
        (["-s", "sh"], "--shell: must be an absolute path"),
        (["-a", "-x"], "invalid app name '-x'"),
        (["-u", "a b"], "invalid user name 'a b'"),
        (["-g", "a:b"], "invalid group name 'a:b'"),
        (["-m", "web"], "--formation 'web': expected TYPE=COUNT"),
        (["-m", "web=-1"], "--formation 'web=-1': count must be a whole number >= 0"),
        (["-e", "a,,b"], "--env 'a,,b': an empty file name"),
        # two bad options: the first in the order the checks run, whatever the order given
        (["-m", "web", "-p", "0"], "--port 0: must be between 1 and 65535"),
    ]:
        result = procexport("systemd", *arguments, cwd=tmp_path)
        assert result.status == 2
        assert result.stderr.startswith(f"procexport: error: {message}")
