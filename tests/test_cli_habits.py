"""What foreman and honcho users type: help, completion, NO_COLOR, -c, comma lists in -e,
`//` comments, -g and -s; through the command as installed."""

from __future__ import annotations

import pytest
import typer
from helpers import REPO, run_on_a_terminal, write_app
from installed import run_installed

from exporter.cli import app as cli_app
from exporter.formats import FORMAT_NAMES


def test_every_option_and_argument_has_one_line_of_help():
    command = typer.main.get_command(cli_app)
    missing = [param.name for param in command.params if not (param.help or "").strip()]
    assert missing == []
    for param in command.params:
        assert "\n" not in param.help, param.name


def test_help_lists_every_format_of_the_registry_and_ends_with_examples(tmp_path):
    result = run_installed("--help", cwd=tmp_path)
    assert result.status == 0
    text = " ".join(result.stdout.replace("│", " ").split())  # rich may draw a box
    assert f"One of {', '.join(FORMAT_NAMES)}; or `check`" in text
    for option in ("--group", "--shell", "--login", "--uninstall", "--install-completion"):
        assert option in result.stdout
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    examples = lines[lines.index("Examples:") + 1 :]
    assert 2 <= len(examples) <= 4
    assert all(line.startswith("procexport ") for line in examples)


def test_shell_completion_can_be_shown_and_installed(tmp_path):
    shown = run_installed("--show-completion", "bash", cwd=tmp_path)
    assert shown.status == 0
    assert "_PROCEXPORT_COMPLETE=complete_bash" in shown.stdout
    home = tmp_path / "home"
    home.mkdir()
    installed = run_installed(
        "--install-completion",
        "bash",
        cwd=tmp_path,
        env={"HOME": str(home), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert installed.status == 0, installed.stderr
    assert "procexport" in (home / ".bashrc").read_text()


def complete(cwd, words: str) -> list[str]:
    """What bash completion offers for the last of `words`."""
    env = {
        "_PROCEXPORT_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    result = run_installed(cwd=cwd, env=env)
    assert result.status == 0, result.stderr
    return result.stdout.split()


def test_completion_offers_formats_and_the_procfiles_process_types(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\nworker: b\nclock: c\n")
    assert complete(app, "procexport s") == [n for n in FORMAT_NAMES if n.startswith("s")]
    assert "check" in complete(app, "procexport ")
    assert complete(app, "procexport systemd -m w") == ["web=", "worker="]
    assert complete(app, "procexport systemd -c ") == ["web=", "worker=", "clock=", "all="]
    assert complete(tmp_path, "procexport systemd -m ") == []  # no Procfile here
    assert "--uninstall" in complete(app, "procexport systemd --u")


def test_completion_of_check_offers_checks_own_options(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\nworker: b\n")
    assert complete(app, "procexport check --f") == ["--formation-file", "--formation", "--format"]
    assert complete(app, "procexport check -m w") == ["web=", "worker="]
    assert "--force" in complete(app, "procexport systemd --f")


@pytest.mark.parametrize(
    ("env", "args", "coloured"),
    [
        ({}, [], True),
        ({"NO_COLOR": "1"}, [], False),
        ({"NO_COLOR": "yes please"}, [], False),
        ({"NO_COLOR": ""}, [], True),  # no-color.org: only a non-empty value counts
        ({"NO_COLOR": "1"}, ["--color", "always"], True),
        ({}, ["--color", "never"], False),
    ],
)
def test_no_color_turns_the_diff_colour_off_on_a_terminal_and_color_beats_it(
    tmp_path, env, args, coloured
):
    app = write_app(tmp_path / "shop", "web: serve\n")
    out = tmp_path / "out"
    assert run_installed("systemd", str(out), "-q", cwd=app).status == 0
    (app / "Procfile").write_text("web: serve --changed\n")
    result = run_on_a_terminal("systemd", str(out), "--dry-run", *args, cwd=app, env=env)
    assert result.status == 1
    text = result.stdout
    assert '+ExecStart=/bin/sh -c "serve --changed"' in text
    assert ("\x1b[" in text) is coloured


def test_dash_c_is_honchos_name_for_the_formation(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\nworker: b\n")
    with_m = run_installed("systemd", "-m", "web=2,worker=0", cwd=app)
    with_c = run_installed("systemd", "-c", "web=2,worker=0", cwd=app)
    assert with_c.status == 0
    assert with_c.stdout == with_m.stdout
    assert "==> shop-web@2.service.d/instance.conf <==" in with_c.stdout


def test_env_files_as_a_comma_list_like_foreman_and_honcho(tmp_path):
    app = write_app(tmp_path / "shop", "web: a\n")
    (app / "a.env").write_text("A=from-a\nB=from-a\n")
    (app / "b.env").write_text("B=from-b\n")
    comma = run_installed("systemd", "-e", "a.env,b.env", cwd=app)
    repeated = run_installed("systemd", "-e", "a.env", "-e", "b.env", cwd=app)
    assert comma.status == 0, comma.stderr
    assert comma.stdout == repeated.stdout
    assert 'Environment="A=from-a"\nEnvironment="B=from-b"\n' in comma.stdout
    empty = run_installed("systemd", "-e", "a.env,", cwd=app)
    assert (empty.status, empty.stderr) == (
        2,
        "procexport: error: --env 'a.env,': an empty file name\n",
    )


def test_double_slash_comment_lines_in_the_procfile_like_procfile_util(tmp_path):
    app = write_app(tmp_path / "shop", "// the web server\nweb: a\n  // indented\nworker: b\n")
    result = run_installed("systemd", cwd=app)
    assert result.status == 0, result.stderr
    assert 'ExecStart=/bin/sh -c "a"' in result.stdout
    assert 'ExecStart=/bin/sh -c "b"' in result.stdout


def test_group_and_shell_options(tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: a\nworker: b\n",
        {"group": "file", "shell": "/bin/sh", "process": {"worker": {"group": "wg"}}},
    )
    result = run_installed("systemd", "-g", "staff", "-s", "/bin/bash", cwd=app)
    assert result.status == 0, result.stderr
    web, worker = result.stdout.split("==> shop-worker@.service <==")
    assert "Group=staff\n" in web.split("==> shop-web@.service <==")[1]
    assert "Group=wg\n" in worker  # [process.T] beats the command line
    assert result.stdout.count('ExecStart=/bin/bash -c "') == 2
    bad = run_installed("systemd", "--shell", "bash", cwd=app)
    assert (bad.status, bad.stderr) == (
        2,
        "procexport: error: --shell: must be an absolute path of letters, digits and "
        "'/._+-', not 'bash'\n",
    )


def test_readme_lists_the_new_messages(tmp_path):
    from test_errors import _stable_part

    readme = (REPO / "README.md").read_text()
    messages = [
        "--shell: must be an absolute path of letters, digits and '/._+-', not 'bash'",
        "--env 'a.env,': an empty file name",
        "--uninstall needs a LOCATION to remove the app from",
        "nothing to uninstall: no manifest .procexport.shop.systemd.toml for app 'shop' and "
        "format 'systemd'",
        "--format 'xml': use text or json",
        "login: Input should be a valid boolean",
    ]
    assert [m for m in messages if _stable_part(m) not in readme] == []
