"""Resolving options, formation.toml, Procfile and .env files into one Formation."""

from pathlib import Path

import pytest
from helpers import write_app

from exporter.errors import ExportError
from exporter.formation import Options, load_formation

PROCFILE = "web: serve\nworker: work\nclock: tick\n"


def load(directory: Path, **options) -> object:
    return load_formation(Options(**options), directory)


def types(formation) -> dict:
    return {t.name: t for t in formation.types}


def test_without_any_formation_every_type_runs_once(tmp_path):
    formation = load(write_app(tmp_path / "shop", PROCFILE))
    assert [(t.name, t.count) for t in formation.types] == [
        ("web", 1),
        ("worker", 1),
        ("clock", 1),
    ]
    assert formation.app == "shop"
    assert formation.root == str(tmp_path / "shop")
    assert types(formation)["web"].user == "shop"


def test_a_formation_leaves_unnamed_types_at_all_which_defaults_to_zero(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"formation": {"web": 2}})
    assert [t.count for t in load(app).types] == [2, 0, 0]
    assert [t.count for t in load(app, formation=("all=3",)).types] == [2, 3, 3]


def test_command_line_formation_merges_per_type_over_the_file(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"formation": {"web": 2, "worker": 4}})
    formation = load(app, formation=("web=5", "clock=1,worker=0"))
    assert [t.count for t in formation.types] == [5, 0, 1]


def test_all_zero_is_valid(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    assert [t.count for t in load(app, formation=("all=0",)).types] == [0, 0, 0]


def test_command_line_beats_file_beats_defaults(tmp_path):
    app = write_app(
        tmp_path / "a",
        PROCFILE,
        {"app": "fromfile", "user": "fileuser", "timeout": 60, "port": 6000},
    )
    from_file = load(app)
    assert (from_file.app, types(from_file)["web"].user) == ("fromfile", "fileuser")
    assert (types(from_file)["web"].timeout, types(from_file)["web"].port) == (60, 6000)
    overridden = load(app, app="cli", user="cliuser", timeout=5, port=7000)
    assert (overridden.app, types(overridden)["web"].user) == ("cli", "cliuser")
    assert (types(overridden)["web"].timeout, types(overridden)["web"].port) == (5, 7000)


def test_process_settings_beat_app_wide_ones_even_from_the_command_line(tmp_path):
    app = write_app(
        tmp_path / "a",
        PROCFILE,
        {"process": {"worker": {"user": "jobs", "timeout": 120, "stop_signal": "SIGQUIT"}}},
    )
    worker = types(load(app, user="cli", timeout=5))["worker"]
    assert (worker.user, worker.timeout, worker.stop_signal) == ("jobs", 120, "QUIT")
    web = types(load(app, user="cli", timeout=5))["web"]
    assert (web.user, web.timeout, web.stop_signal) == ("cli", 5, "TERM")


def test_base_port_comes_from_dotenv_when_neither_option_nor_file_sets_it(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, dotenv="PORT=8000\n")
    assert [t.port for t in load(app).types] == [8000, 8100, 8200]
    assert [t.port for t in load(app, port=9000).types] == [9000, 9100, 9200]


def test_port_in_dotenv_never_reaches_the_type_environment(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, {"env": {"PS": "x"}}, dotenv="PORT=8000\nA=1\n")
    assert [v.name for v in types(load(app))["web"].env] == ["A"]


def test_environment_layers_from_dotenv_to_app_to_process(tmp_path):
    app = write_app(
        tmp_path / "a",
        PROCFILE,
        {"env": {"B": "app", "C": "app"}, "process": {"web": {"env": {"C": "web", "D": 4}}}},
        dotenv="A=dotenv\nB=dotenv\n",
    )
    web = {v.name: (v.value, v.secret) for v in types(load(app))["web"].env}
    assert web == {
        "A": ("dotenv", True),
        "B": ("app", False),
        "C": ("web", False),
        "D": ("4", False),
    }


def test_explicit_env_files_replace_the_default_and_later_ones_win(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, dotenv="A=default\n")
    (app / "one.env").write_text("A=one\nB=one\n")
    (app / "two.env").write_text("B=two\n")
    web = types(load(app, env_files=("one.env", "two.env")))["web"]
    assert {v.name: v.value for v in web.env} == {"A": "one", "B": "two"}


def test_paths_in_the_formation_file_are_relative_to_it(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "production.env").write_text("A=1\n")
    (deploy / "formation.toml").write_text(
        'procfile = "../a/Procfile"\nenv_files = ["production.env"]\nroot = "../a"\nlog = "logs"\n'
    )
    formation = load(tmp_path, formation_file="deploy/formation.toml")
    assert formation.root == str(app)
    assert formation.log == str(deploy / "logs")
    assert formation.procfile == "a/Procfile"
    assert [v.value for v in formation.types[0].env] == ["1"]


def test_default_dotenv_may_be_absent_but_a_named_one_may_not(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE)
    assert load(app).types[0].env == ()
    with pytest.raises(ExportError) as error:
        load(app, env_files=("missing.env",))
    assert str(error.value) == "missing.env: no such file"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('app = "x"\nbogus = 1\n', "formation.toml:2: bogus: unknown key"),
        ("timeout = 0\n", "formation.toml:1: timeout: Input should be greater than or equal to 1"),
        ('timeout = "30"\n', "formation.toml:1: timeout: Input should be a valid integer"),
        ("port = 70000\n", "formation.toml:1: port: Input should be less than or equal to 65535"),
        ("[formation]\nweb = -1\n", "formation.toml:2: formation.web: Input should be greater"),
        ("[formation]\nnope = 1\n", "formation.toml:2: formation.nope: the Procfile has no"),
        ("[process.nope]\ntimeout = 3\n", "formation.toml:1: process.nope: the Procfile has no"),
        ("[process.web]\nstop_signal = 'STOP'\n", "formation.toml:2: process.web.stop_signal: "),
        ("[process.web]\nsize = 1\n", "formation.toml:2: process.web.size: unknown key"),
        ("[env]\n'BAD-NAME' = 'x'\n", "formation.toml:2: env.BAD-NAME: invalid variable name"),
        ("[env]\nA = true\n", "formation.toml:2: env.A: Input should be a valid string"),
        ("app = \n", "formation.toml:1: Invalid value"),
        ('shell = "sh"\n', "formation.toml:1: shell: must be an absolute path"),
    ],
)
def test_formation_file_errors_name_the_line_and_key(tmp_path, toml, expected):
    app = write_app(tmp_path / "a", PROCFILE)
    (app / "formation.toml").write_text(toml)
    with pytest.raises(ExportError) as error:
        load(app)
    assert str(error.value).startswith(expected)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"formation": ("web",)}, "--formation 'web': expected TYPE=COUNT"),
        ({"formation": ("web=-1",)}, "count must be a whole number"),
        ({"formation": ("web=two",)}, "count must be a whole number"),
        ({"formation": ("nope=1",)}, "--formation nope: the Procfile has no process type"),
        ({"app": "my app"}, "invalid app name 'my app'"),
        ({"app": "a/b"}, "invalid app name"),
        ({"app": "a@b"}, "invalid app name"),
        ({"app": "-x"}, "invalid app name"),
        ({"user": "bad user"}, "invalid user name 'bad user'"),
    ],
)
def test_bad_options_are_errors(tmp_path, options, expected):
    app = write_app(tmp_path / "a", PROCFILE)
    with pytest.raises(ExportError, match=expected.replace("(", r"\(")):
        load(app, **options)


def test_an_app_directory_name_that_is_no_valid_app_name_asks_for_app(tmp_path):
    app = write_app(tmp_path / "my app", PROCFILE)
    with pytest.raises(ExportError, match="set it with --app"):
        load(app)
    assert load(app, app="myapp").app == "myapp"


def test_a_non_numeric_dotenv_port_names_its_line(tmp_path):
    app = write_app(tmp_path / "a", PROCFILE, dotenv="A=1\nPORT=http\n")
    with pytest.raises(ExportError) as error:
        load(app)
    assert (error.value.file, error.value.line) == (".env", 2)
