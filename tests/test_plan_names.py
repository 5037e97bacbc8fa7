"""The names and ports every format reads from the plan, and what a -t override sees of them."""

from __future__ import annotations

from helpers import expected_port, write_app

from exporter.formation import Options, load_formation
from exporter.plan import build_plan


def test_the_plan_names_each_type_and_instance_and_gives_its_port(tmp_path):
    app = write_app(
        tmp_path / "app",
        "release: migrate\nweb: serve\nworker: work\n",
        {"app": "shop", "formation": {"web": 2, "worker": 3}},
    )
    plan = build_plan(load_formation(Options(), app))
    web, worker = plan.processes
    assert (web.full_name, worker.full_name) == ("shop-web", "shop-worker")
    assert [i.full_name for i in worker.instances] == [
        "shop-worker-1",
        "shop-worker-2",
        "shop-worker-3",
    ]
    assert [i.port for i in worker.instances] == [expected_port(2, n) for n in (1, 2, 3)]
    assert (web.port, worker.port) == (expected_port(1), expected_port(2))
    assert plan.release is not None
    assert plan.release.full_name == "shop-release"
    assert plan.release.instances[0].full_name == "shop-release"


def test_an_override_template_reads_the_names_and_ports_from_the_plan(procexport, tmp_path):
    app = write_app(tmp_path / "app", "web: serve\n", {"app": "shop", "formation": {"web": 2}})
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "type.target.j2").write_text(
        "{{ process.full_name }} {{ process.port }}"
        "{% for i in process.instances %} {{ i.full_name }}:{{ i.port }}{% endfor %}\n"
    )
    result = procexport("systemd", "-t", str(overrides), cwd=app)
    assert result.status == 0, result.stderr
    assert "==> shop-web.target <==\nshop-web 5000 shop-web-1:5000 shop-web-2:5001" in (
        result.stdout
    )
