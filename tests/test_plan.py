from pathlib import Path

import pytest
from helpers import write_app

from exporter.errors import ExportError
from exporter.formation import Options, load_formation
from exporter.plan import build_plan

PROCFILE = "web: serve\nworker: work\nclock: tick\n"


def plan_for(directory: Path, **options):
    return build_plan(load_formation(Options(**options), directory))


def test_ports_follow_foremans_rule_counting_types_without_instances(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    plan = plan_for(app, formation=("web=2,worker=0,clock=2",))
    assert [(i.ps, i.port) for i in plan.instances] == [
        ("web.1", 5000),
        ("web.2", 5001),
        ("clock.1", 5200),
        ("clock.2", 5201),
    ]
    assert [p.name for p in plan.processes] == ["web", "clock"]


def test_a_type_port_replaces_the_base_for_that_type(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"process": {"worker": {"port": 9000}}})
    plan = plan_for(app, formation=("all=2",))
    assert [i.port for i in plan.instances] == [5000, 5001, 9000, 9001, 5200, 5201]


def test_instances_carry_port_and_ps_in_their_environment(tmp_path):
    plan = plan_for(write_app(tmp_path / "a", PROCFILE))
    assert [(v.name, v.value) for v in plan.instances[1].env] == [
        ("PORT", "5100"),
        ("PS", "worker.1"),
    ]


def test_two_instances_on_one_port_are_an_error(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"process": {"worker": {"port": 5001}}})
    with pytest.raises(ExportError, match=r"web\.2 and worker\.1 would both get port 5001"):
        plan_for(app, formation=("web=2,worker=1",))


def test_more_than_a_hundred_instances_collide_with_the_next_type(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    with pytest.raises(ExportError, match=r"web\.101 and worker\.1 would both get port 5100"):
        plan_for(app, formation=("web=101,worker=1,clock=0",))


def test_a_port_above_65535_is_an_error(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    with pytest.raises(ExportError, match=r"worker\.1 would get port 65536, above 65535"):
        plan_for(app, port=65436)
