"""Instance files are rendered once per process type and filled in per instance (a speed-up):
the text must be exactly what Jinja renders for each instance, whatever the inputs."""

from pathlib import Path

import jinja2
import pytest

import exporter.templating as templating
from exporter.formation import Options, load_formation
from exporter.formats import Install, render
from exporter.plan import build_plan

AWKWARD = Path(__file__).resolve().parent.parent / "fixtures" / "awkward"
HOSTILE_LOGS = (
    None,
    '/var/log/it\'s 100% "done" $HOME \\ ☃',
    "/var/log/7305192846",  # a sentinel's digits in the fixed text
    "/var/log/6193847205 8416203957",
)


def _plan(monkeypatch, log, count=3):
    monkeypatch.chdir(AWKWARD)
    options = Options(formation=(f"all={count}",), log=log, root="/srv/a 100%")
    return build_plan(load_formation(options, AWKWARD))


def _per_instance(monkeypatch, *args, **kwargs):
    """The rendering with one Jinja render per instance file."""
    with monkeypatch.context() as patch:
        patch.setattr(templating, "_is_builtin", lambda filename: False)
        return render(*args, **kwargs)


@pytest.mark.parametrize("format_name", ["systemd", "systemd-user", "upstart", "runit"])
@pytest.mark.parametrize("log", HOSTILE_LOGS)
def test_instance_files_are_what_jinja_renders_for_each_instance(monkeypatch, format_name, log):
    plan = _plan(monkeypatch, log)
    calls = []
    real = jinja2.Template.render
    monkeypatch.setattr(
        jinja2.Template, "render", lambda self, *a, **k: calls.append(1) or real(self, *a, **k)
    )
    fast = render(format_name, plan, install=Install.at(Path("/etc/x")), bytecode_cache=False)
    fast_renders = len(calls)
    slow = _per_instance(monkeypatch, format_name, plan, install=Install.at(Path("/etc/x")))
    assert fast == slow
    assert fast_renders < len(calls) - len(calls) // 3  # instances were not rendered one by one


def test_a_sentinel_in_the_command_falls_back_to_rendering_each_instance(monkeypatch, tmp_path):
    (tmp_path / "Procfile").write_text("web: echo 7305192846 6193847205 $PORT\n")
    monkeypatch.chdir(tmp_path)
    plan = build_plan(load_formation(Options(formation=("web=3",)), tmp_path))
    for format_name in ("systemd", "upstart", "runit"):
        fast = render(format_name, plan, bytecode_cache=False)
        assert fast == _per_instance(monkeypatch, format_name, plan, bytecode_cache=False)
        if format_name == "upstart":
            assert "7305192846 6193847205" in fast[f"{plan.app}-web-2.conf"].text
    assert "7305192846 6193847205" in fast[f"{plan.app}-web-2/run"].text


def test_an_override_template_is_rendered_for_each_instance(monkeypatch, tmp_path):
    """An override may branch on the instance: it never takes the fill-in path."""
    override = tmp_path / "templates" / "systemd"
    override.mkdir(parents=True)
    (override / "instance.conf.j2").write_text(
        "[Service]\n{% if instance.number == 1 %}Environment=FIRST=1\n{% endif %}"
        "Environment=PORT={{ instance.port + 1 }}\n"
    )
    plan = _plan(monkeypatch, None, count=3)
    files = render("systemd", plan, tmp_path / "templates", bytecode_cache=False)
    first = files[f"{plan.app}-web@1.service.d/instance.conf"].text
    second = files[f"{plan.app}-web@2.service.d/instance.conf"].text
    assert "FIRST=1" in first and "FIRST" not in second
    assert first.endswith(f"PORT={plan.processes[0].instances[0].port + 1}\n")
