"""The command line: options, preview, writing, exit statuses and one-line errors."""

import os
import re
import subprocess
import sys

import pytest
from helpers import FIXTURES, read_tree, snapshot, write_app

from exporter import __version__


def test_preview_prints_each_file_under_a_header_and_writes_nothing(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    before = snapshot(app)
    result = procexport("systemd", cwd=app)
    assert result.status == 0
    headers = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [
        "==> shop.target <==",
        "==> shop-web.target <==",
        "==> shop-web@.service <==",
        "==> shop-web@1.service.d/instance.conf <==",
    ]
    assert snapshot(app) == before


def test_writing_creates_location_and_files_with_mode_0644(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "deep" / "units"
    result = procexport("systemd", str(out), "-m", "web=2", cwd=app)
    assert (result.status, result.stdout) == (0, "")
    files = read_tree(out)
    assert "shop-web@2.service.d/instance.conf" in files
    for name in files:
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert not [p for p in out.rglob(".*") if p.name.startswith(".shop")], "temporaries left"


def test_preview_and_written_files_agree(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    preview = procexport("systemd", cwd=app).stdout
    procexport("systemd", str(tmp_path / "out"), cwd=app)
    sections = re.split(r"^==> (.+) <==\n", preview, flags=re.MULTILINE)
    assert sections[0] == ""
    previewed = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert previewed == read_tree(tmp_path / "out")


def test_procfile_option_and_its_directory_as_default_root(procexport, tmp_path):
    write_app(tmp_path / "srv" / "shop", "web: serve\n")
    result = procexport("systemd", "-f", "srv/shop/Procfile", cwd=tmp_path)
    assert result.status == 0
    assert f"WorkingDirectory={tmp_path}/srv/shop\n" in result.stdout
    assert "from srv/shop/Procfile;" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown format 'nope': use one of"),
        (["systemd", "--dry-run"], "--dry-run needs a LOCATION"),
        (["systemd", "--bogus"], "No such option: --bogus"),
        ([], "Missing argument 'FORMAT'"),
        (["systemd", "-p", "x"], "'--port'"),
        (["systemd", "--timeout", "0"], "--timeout 0: must be a whole number of seconds >= 1"),
        (["systemd", "-t", "missing"], "missing: --template: no such directory"),
        (["systemd", "-f", "Nope"], "Nope: no such file"),
        (["systemd", "-F", "none.toml"], "none.toml: no such file"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(procexport, tmp_path, args, message):
    app = write_app(tmp_path / "shop", "web: serve\n")
    result = procexport(*args, cwd=app)
    assert result.status == 2
    assert result.stderr.startswith("procexport: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_location_that_is_a_file_is_an_error(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    (tmp_path / "afile").write_text("x")
    result = procexport("systemd", str(tmp_path / "afile"), cwd=app)
    assert result.status == 2
    assert "is not a directory" in result.stderr
    assert (tmp_path / "afile").read_text() == "x"


def test_bad_input_names_file_and_line(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nbroken line\n")
    result = procexport("systemd", str(tmp_path / "out"), cwd=app)
    assert (result.status, result.stderr) == (
        2,
        "procexport: error: Procfile:2: expected 'name: command', found no colon\n",
    )
    assert not (tmp_path / "out").exists()


def test_template_override_replaces_one_file_and_keeps_the_rest(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n")
    overrides = tmp_path / "tpl" / "systemd"
    overrides.mkdir(parents=True)
    (overrides / "app.target.j2").write_text("# custom {{ plan.app }}\n")
    result = procexport("systemd", "-t", str(tmp_path / "tpl"), cwd=app)
    assert "==> shop.target <==\n# custom shop\n==> shop-web.target" in result.stdout
    assert 'ExecStart=/bin/sh -c "serve"' in result.stdout


def test_version(procexport, tmp_path):
    result = procexport("--version", cwd=tmp_path)
    assert (result.status, result.stdout) == (0, f"procexport {__version__}\n")


def test_installed_entry_points_run_without_a_traceback(tmp_path):
    shop = FIXTURES / "shop"
    for command in (["procexport"], [sys.executable, "-m", "exporter"]):
        good = subprocess.run([*command, "systemd"], cwd=shop, capture_output=True, text=True)
        assert good.returncode == 0, good.stderr
        assert "==> shop.target <==" in good.stdout
        bad = subprocess.run(
            [*command, "systemd", "-m", "web=x"], cwd=shop, capture_output=True, text=True
        )
        assert bad.returncode == 2
        assert (
            bad.stderr
            == "procexport: error: --formation 'web=x': count must be a whole number >= 0\n"
        )


def test_an_unreadable_location_is_one_line_not_a_traceback(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/procexport-cannot-write-here"
    else:
        target = "/procexport-cannot-write-here"
    result = subprocess.run(
        ["procexport", "systemd", target], cwd=FIXTURES / "shop", capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("procexport: error: ")
    assert "Traceback" not in result.stderr


def test_an_unusable_template_cache_only_costs_speed(procexport, tmp_path, monkeypatch):
    import jinja2

    def refuse(*args, **kwargs):
        raise RuntimeError("Cannot determine safe temp directory")

    monkeypatch.setattr(jinja2, "FileSystemBytecodeCache", refuse)
    app = write_app(tmp_path / "shop", "web: serve\n")
    result = procexport("systemd", cwd=app)
    assert result.status == 0
    assert "==> shop.target <==" in result.stdout


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% if %}\n", "app.target.j2:1: template error: Expected an expression"),
        ("{{ nope }}\n", "template error: 'nope' is undefined"),
    ],
)
def test_a_broken_template_override_is_one_line_exit_2(procexport, tmp_path, template, message):
    app = write_app(tmp_path / "shop", "web: serve\n")
    overrides = tmp_path / "tpl" / "systemd"
    overrides.mkdir(parents=True)
    (overrides / "app.target.j2").write_text(template)
    result = procexport("systemd", str(tmp_path / "out"), "-t", str(tmp_path / "tpl"), cwd=app)
    assert result.status == 2
    assert result.stderr.startswith("procexport: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["kubernetes", "launchd"])
def test_a_template_override_for_a_format_without_templates_is_an_error(procexport, tmp_path, fmt):
    app = write_app(tmp_path / "app", "web: serve\n", {"kubernetes": {"image": "img:1"}})
    (tmp_path / "tpl").mkdir()
    result = procexport(fmt, "-t", str(tmp_path / "tpl"), cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"procexport: error: --template: the {fmt} format has no templates to override (its "
        "files are written as data, escaping included)\n"
    )


def test_a_systemd_user_override_is_looked_up_in_its_own_folder_first(procexport, tmp_path):
    app = write_app(tmp_path / "app", "web: serve\n")
    for folder, text in (("systemd-user", "user"), ("systemd", "system")):
        (tmp_path / "tpl" / folder).mkdir(parents=True)
        (tmp_path / "tpl" / folder / "app.target.j2").write_text(f"# {text}\n")
    user = procexport("systemd-user", "-t", str(tmp_path / "tpl"), cwd=app)
    system = procexport("systemd", "-t", str(tmp_path / "tpl"), cwd=app)
    assert "==> app.target <==\n# user\n" in user.stdout
    assert "==> app.target <==\n# system\n" in system.stdout
