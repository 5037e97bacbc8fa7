"""Property tests: arbitrary commands, values, names and paths through the real parsers.

For every format and every generated input, procexport either writes configuration that
delivers exactly that input (as read back by systemd --test, supervisor's own loader and
shlex, or the libnih tokenizer model and /bin/sh), or exits 2 with one error line. Never a
mangled value, never an extra directive, never a traceback. Generated commands are compared,
never executed.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import systemd_oracle
import tomli_w
from helpers import export, run_in_process
from hypothesis import example, given, settings
from hypothesis import strategies as st
from supervisor_harness import execv_args, load_programs
from systemd_envfile_model import parse_env_file
from upstart_model import UpstartParseError, parse_job

from exporter.formats.shell import SOURCE_THEN_RUN

NASTY = "'\"%$\\;# \t`!&|<>(){}[]*?~=,:@éñ☃日\u200b\u2028\x07\x1b\x7f"
TEXT = st.text(alphabet=NASTY + "abcXYZ019-_./in", max_size=24)
COMMANDS = TEXT.map(str.strip).filter(lambda s: bool(s) and s != "\u2028")
VALUES = st.text(alphabet=NASTY + "ab\n\r\x0b\x0c", max_size=24)
NAMES = st.text(alphabet="abcZ09_-.@/ %:é$\n", min_size=1, max_size=12)
PATHS = st.text(alphabet="ab /%'\"$\\;#é\t.-", max_size=16).map(lambda s: "/srv/" + s)

# Examples per property on top of the loaded profile (conftest.py: derandomized in CI).
PROFILE = settings(max_examples=int(os.environ.get("PROCEXPORT_PROPERTY_EXAMPLES", "30")))


# Hypothesis runs a test body many times in one pytest test, so apps cannot live in tmp_path:
# each gets a directory of its own, removed when the module is done.
_MADE: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _remove_made_apps():
    yield
    for directory in _MADE:
        shutil.rmtree(directory, ignore_errors=True)


def make_app(
    command: str, env: dict[str, str], formation: dict | None = None, dotenv: str = ""
) -> Path:
    base = Path(tempfile.mkdtemp(prefix="prop-"))
    _MADE.append(base)
    app = base / "app"
    app.mkdir()
    (app / "Procfile").write_text(f"web: {command}\n", encoding="utf-8")
    (app / "formation.toml").write_text(
        tomli_w.dumps({"app": "app", "env": env} | (formation or {})), encoding="utf-8"
    )
    (app / ".env").write_text(dotenv, encoding="utf-8")
    return app


def read_out(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_bytes().decode("utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".procexport.")
    }


def assert_refused(status: int, stdout: str, stderr: str) -> None:
    assert status == 2, stderr
    assert stderr.startswith("procexport: error: ")
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr


def expected_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("PORT", "PS")} | {
        "PORT": "5000",
        "PS": "web.1",
    }


ENVS = st.dictionaries(st.sampled_from(["A", "B_2", "PATHISH", "PORT", "PS"]), VALUES, max_size=3)


@pytest.mark.skipif(not systemd_oracle.available(), reason="systemd is not installed")
@PROFILE
@given(command=COMMANDS, env=ENVS, root=PATHS, log=PATHS)
@example(command="serve", env={}, root="/srv/..", log="/srv/..")  # both normalise to /
def test_systemd_delivers_any_command_value_root_and_log_exactly(command, env, root, log):
    app = make_app(command, env, {"root": root, "log": log})
    out = app.parent / "out"
    status, stdout, stderr = export(run_in_process, app, "systemd", out)
    if status != 0:
        assert_refused(status, stdout, stderr)
        assert not out.exists()
        return
    units, warnings = systemd_oracle.load_units(read_out(out), "app.target")
    assert warnings == []
    unit = units["app-web@1.service"]
    assert unit.environment == expected_env(env)
    (argv,) = unit.exec_start
    assert systemd_oracle.substitute_variables(argv, unit.environment) == ["/bin/sh", "-c", command]
    assert unit.get("WorkingDirectory") == os.path.normpath(root)
    log_file = unit.get("StandardOutputFileToAppend")
    # `-l /` writes append://app-web-%i.log, which systemd (like the kernel) reads as /app-...
    assert log_file == posixpath.join(os.path.normpath(log), "app-web-1.log")


@PROFILE
@given(command=COMMANDS, env=ENVS, root=PATHS)
def test_supervisord_delivers_any_command_value_and_root_exactly(command, env, root):
    app = make_app(command, env, {"root": root})
    out = app.parent / "out"
    status, stdout, stderr = export(run_in_process, app, "supervisord", out, "-u", "root")
    if status != 0:
        assert_refused(status, stdout, stderr)
        return
    (program,) = load_programs(out / "app.conf").values()
    assert execv_args(program) == ["/bin/sh", "-c", command]
    assert program.environment == expected_env(env)
    assert program.directory == os.path.normpath(root)


def shell_words(line: str) -> list[str]:
    """How /bin/sh itself splits the words of a command line (nothing is run but printf)."""
    result = subprocess.run(
        ["sh", "-c", f"set -- {line}\nprintf '%s\\0' \"$@\""],
        capture_output=True,
        check=True,
        timeout=10,
    )
    return result.stdout.decode("utf-8").split("\0")[:-1]


@PROFILE
@given(command=COMMANDS, env=ENVS, root=PATHS)
def test_upstart_delivers_any_command_value_and_root_exactly(command, env, root):
    app = make_app(command, env, {"root": root})
    out = app.parent / "out"
    status, stdout, stderr = export(run_in_process, app, "upstart", out)
    if status != 0:
        assert_refused(status, stdout, stderr)
        return
    files = read_out(out)
    try:
        job = parse_job("app-web-1", files["app-web-1.conf"])
    except UpstartParseError as exc:
        raise AssertionError(f"libnih would reject the job: {exc}") from exc
    assert job.env == expected_env(env)
    assert job.chdir == os.path.normpath(root)
    (line,) = [line for line in (job.script or "").split("\n") if line.strip()]
    assert line.startswith("exec ")
    assert shell_words(line.removeprefix("exec ")) == ["/bin/sh", "-c", command]


SECRET_VALUES = VALUES.filter(lambda v: "\r\n" not in v)


def dotenv_text(env: dict[str, str]) -> str:
    lines = []
    for name, value in env.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        lines.append(f'{name}="{escaped.replace(chr(10), chr(92) + "n")}"\n')
    return "".join(lines)


def sourced(env_file: Path) -> dict[str, str]:
    """What the shell wrapper exports after sourcing the env file (it runs only `env -0`)."""
    result = subprocess.run(
        ["/bin/sh", "-c", SOURCE_THEN_RUN, "env -0", str(env_file), "/bin/sh"],
        env={},
        capture_output=True,
        check=True,
        timeout=10,
    )
    pairs = [item.split("=", 1) for item in result.stdout.decode().split("\0") if item]
    return {k: v for k, v in pairs if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


SECRET_ENVS = st.dictionaries(st.sampled_from(["S1", "S_2", "PS"]), SECRET_VALUES, max_size=3)


@PROFILE
@given(secrets=SECRET_ENVS)
def test_env_files_carry_any_dotenv_value_exactly(secrets):
    app = make_app("serve", {}, {"env_mode": "file"}, dotenv_text(secrets))
    wanted = {k: v for k, v in secrets.items() if k != "PS"}
    for fmt in ("systemd", "supervisord", "upstart"):
        out = app.parent / f"out-{fmt}"
        status, _, stderr = export(run_in_process, app, fmt, out, "-u", "root")
        assert status == 0, stderr
        env_file = out / "app.env"
        if not wanted:
            assert not env_file.exists()
            continue
        assert env_file.stat().st_mode & 0o777 == 0o600
        if fmt == "systemd":
            assert parse_env_file(env_file.read_bytes().decode()) == wanted
        else:
            assert sourced(env_file) == wanted


@PROFILE
@given(app_name=NAMES, user=NAMES)
def test_any_app_and_user_name_is_used_verbatim_or_refused(app_name, user):
    app = make_app("serve", {})
    (app / "formation.toml").write_text("", encoding="utf-8")
    for fmt in ("systemd", "supervisord", "upstart"):
        out = app.parent / f"out-{fmt}"
        status, stdout, stderr = export(run_in_process, app, fmt, out, "-a", app_name, "-u", user)
        if status != 0:
            assert_refused(status, stdout, stderr)
            assert not out.exists()
            continue
        names = set(read_out(out))
        assert all(name.startswith(app_name) for name in names), names
        assert all("/" not in name.removeprefix(f"{app_name}-web@1.service.d/") for name in names)


@PROFILE
@given(command=COMMANDS, env=ENVS, secrets=SECRET_ENVS)
def test_kubernetes_delivers_any_command_and_value_exactly(command, env, secrets):
    import yaml
    from kubelet_model import container_argv, container_environment

    app = make_app(command, env, {"kubernetes": {"image": "i:1"}}, dotenv_text(secrets))
    out = app.parent / "out"
    status, stdout, stderr = export(run_in_process, app, "kubernetes", out)
    if status != 0:
        assert_refused(status, stdout, stderr)
        return
    manifests = [yaml.safe_load(p.read_bytes().decode()) for p in out.glob("*.yaml")]
    objects = {(m["kind"], m["metadata"]["name"]): m for m in manifests if "metadata" in m}
    (container,) = objects[("Deployment", "app-web")]["spec"]["template"]["spec"]["containers"]
    environment = container_environment(container, objects, "app-web-abc")
    wanted = {k: v for k, v in secrets.items() if k != "PS"} | env
    assert environment == expected_env(wanted) | {"PS": "app-web-abc"}
    assert container_argv(container, environment) == ["/bin/sh", "-c", command]
