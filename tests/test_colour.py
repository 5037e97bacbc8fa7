"""The --dry-run diff in colour on a terminal (git's palette), plain when piped, through the
command as installed: colour only adds escape codes around whole lines."""

from __future__ import annotations

import re

import pytest
from helpers import export, run_on_a_terminal, write_app
from installed import run_installed

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESET = "\x1b[0m"
BOLD, RED, GREEN, CYAN = "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[36m"
HEADERS = ("diff --procexport ", "new file mode ", "deleted file mode ", "old mode ", "new mode ")


def painted(line: str) -> str:
    """A plain diff line as git colours it: headers bold, hunks cyan, removals red, additions
    green, context as it is."""
    if line.startswith((*HEADERS, "--- ", "+++ ")):
        return BOLD + line + RESET
    colour = {"@": CYAN, "-": RED, "+": GREEN}.get(line[:1])
    return colour + line + RESET if colour else line


@pytest.fixture
def changed(tmp_path):
    """A written export, then a Procfile that changes one unit, adds and removes instances."""
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "out"
    assert export(run_installed, app, "systemd", out, "-m", "web=2,worker=1").status == 0
    (app / "Procfile").write_text("web: serve --changed\nworker: work\n")
    return app, out


@pytest.mark.parametrize("uninstall", [False, True], ids=["export", "uninstall"])
def test_the_dry_run_diff_is_coloured_on_a_terminal_and_plain_when_piped(changed, uninstall):
    app, out = changed
    args = ["systemd", str(out), "--dry-run", "-m", "web=1,worker=2"]
    args += ["--uninstall"] if uninstall else []
    terminal = run_on_a_terminal(*args, cwd=app)
    piped = run_installed(*args, cwd=app, env={"NO_COLOR": ""})
    assert (terminal.status, piped.status) == (1, 1), terminal.stderr + piped.stderr
    assert "\x1b" not in piped.stdout
    assert ANSI.sub("", terminal.stdout) == piped.stdout  # colour adds codes, nothing else
    lines = piped.stdout.splitlines()
    assert terminal.stdout.splitlines() == [painted(line) for line in lines]
    kinds = {line[:1] for line in lines} | {line.split(" ")[0] for line in lines}
    if uninstall:
        assert {"deleted", "---", "+++", "@@", "-"} <= kinds
    else:
        assert {"new", "deleted", "---", "+++", "@@", "-", "+", " "} <= kinds


@pytest.mark.parametrize("no_color", ["1", "no"])
def test_no_color_keeps_the_terminal_diff_plain_and_color_always_colours_a_pipe(changed, no_color):
    app, out = changed
    args = ["systemd", str(out), "--dry-run"]
    plain = run_installed(*args, cwd=app)
    terminal = run_on_a_terminal(*args, cwd=app, env={"NO_COLOR": no_color})
    assert (terminal.status, terminal.stdout) == (1, plain.stdout)
    forced = run_installed(*args, "--color", "always", cwd=app, env={"NO_COLOR": no_color})
    assert forced.stdout.splitlines() == [painted(line) for line in plain.stdout.splitlines()]
