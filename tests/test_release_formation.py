"""The release phase stands outside the formation; restart_delay is validated like timeout."""

from pathlib import Path

import pytest
from helpers import write_app

from exporter.errors import ExportError
from exporter.formation import Options, load_formation
from exporter.plan import build_plan

PROCFILE = "release: migrate\nweb: serve\nworker: work\n"


def plan_for(directory: Path, **options):
    return build_plan(load_formation(Options(**options), directory))


def release_count(plan) -> int:
    return len(plan.release.instances) if plan.release else 0


def test_release_runs_once_and_is_not_one_of_the_kept_running_processes(tmp_path):
    plan = plan_for(write_app(tmp_path / "a", PROCFILE))
    assert release_count(plan) == 1
    assert plan.release.instances[0].ps == "release.1"
    assert [p.name for p in plan.processes] == ["web", "worker"]
    assert all(i.type != "release" for i in plan.instances)


@pytest.mark.parametrize(
    ("formation", "specs"),
    [
        ({"web": 3}, ()),  # a formation that does not name release leaves it alone
        ({"all": 4}, ()),
        ({}, ("all=0",)),
        ({}, ("web=3",)),
        ({"all": 0}, ("all=2", "worker=5")),
        ({"release": 1}, ("all=0",)),
    ],
)
def test_neither_all_nor_other_counts_scale_or_drop_the_release(tmp_path, formation, specs):
    app = write_app(tmp_path / "a", PROCFILE, {"formation": formation} if formation else None)
    assert release_count(plan_for(app, formation=specs)) == 1


@pytest.mark.parametrize(
    ("formation", "specs"),
    [({"release": 0}, ()), ({}, ("release=0",)), ({"release": 1, "all": 2}, ("release=0",))],
)
def test_release_zero_disables_it(tmp_path, formation, specs):
    app = write_app(tmp_path / "a", PROCFILE, {"formation": formation} if formation else None)
    plan = plan_for(app, formation=specs)
    assert plan.release is None
    assert [p.name for p in plan.processes] == ["web", "worker"]


def test_release_one_on_the_command_line_turns_it_back_on(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"formation": {"release": 0}})
    assert release_count(plan_for(app, formation=("release=1",))) == 1


def test_a_release_count_above_one_in_the_file_names_the_line(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    (app / "formation.toml").write_text("[formation]\nweb = 2\nrelease = 2\n")
    with pytest.raises(ExportError) as error:
        plan_for(app)
    assert (str(error.value), error.value.file, error.value.line) == (
        "formation.toml:3: formation.release: the release phase runs once; use 1, or 0 to skip it",
        "formation.toml",
        3,
    )


def test_a_release_count_above_one_on_the_command_line_is_an_error(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    with pytest.raises(ExportError, match=r"--formation release=3: the release phase runs once"):
        plan_for(app, formation=("web=1,release=3",))


def test_without_a_release_type_nothing_changes(tmp_path):
    plan = plan_for(write_app(tmp_path / "a", "web: serve\n"), formation=("all=2",))
    assert plan.release is None
    assert [i.ps for i in plan.instances] == ["web.1", "web.2"]


def test_the_release_type_counts_in_procfile_order_for_ports(tmp_path):
    plan = plan_for(write_app(tmp_path / "a", PROCFILE))
    assert plan.release.instances[0].port == 5000
    assert [(i.ps, i.port) for i in plan.instances] == [("web.1", 5100), ("worker.1", 5200)]


def test_restart_delay_defaults_to_5_and_the_type_beats_the_app(tmp_path):
    app = write_app(
        tmp_path / "a",
        PROCFILE,
        {"restart_delay": 10, "process": {"worker": {"restart_delay": 30}}},
    )
    delays = {t.name: t.restart_delay for t in load_formation(Options(), app).types}
    assert delays == {"release": 10, "web": 10, "worker": 30}
    default = load_formation(Options(), write_app(tmp_path / "b", "web: serve\n"))
    assert default.types[0].restart_delay == 5


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("restart_delay = 0\n", "formation.toml:1: restart_delay: Input should be greater than or"),
        (
            "[process.web]\nrestart_delay = 3601\n",
            "formation.toml:2: process.web.restart_delay: Input should be less than or equal to "
            "3600",
        ),
        ("restart_delay = 1.5\n", "formation.toml:1: restart_delay: Input should be a valid int"),
        ("restart_delay = '5'\n", "formation.toml:1: restart_delay: Input should be a valid int"),
    ],
)
def test_a_restart_delay_outside_1_to_3600_whole_seconds_is_an_error(tmp_path, toml, expected):
    app = write_app(tmp_path / "a", PROCFILE)
    (app / "formation.toml").write_text(toml)
    with pytest.raises(ExportError) as error:
        plan_for(app)
    assert str(error.value).startswith(expected)
