"""`procexport check`: validation of every input and the lint of what breaks the process
model, through the command (exit 0 clean, 1 warnings, 2 errors; text and JSON)."""

from __future__ import annotations

import json

import pytest
from helpers import snapshot, write_app
from installed import run_installed

from exporter.check import lint_commands
from exporter.procfile import parse_procfile


def lint(procfile: str) -> list[str]:
    """The messages of the findings for a Procfile, as `TYPE: message`."""
    findings = lint_commands(parse_procfile(procfile, "Procfile"), "Procfile")
    return [f"{f.type}: {f.message}" for f in findings]


def test_a_clean_app_exits_0_and_prints_nothing(tmp_path):
    app = write_app(
        tmp_path / "shop",
        "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: celery -A app worker\n",
        {"formation": {"web": 2}},
        "SECRET=1\n",
    )
    before = snapshot(app)
    result = run_installed("check", cwd=app)
    assert (result.status, result.stdout, result.stderr) == (0, "", "")
    assert snapshot(app) == before


def test_each_finding_is_one_line_naming_file_line_and_type_exit_1(tmp_path):
    app = write_app(
        tmp_path / "shop",
        "# a comment\n"
        "web: bundle exec puma -d\n"
        "worker: nohup sidekiq &\n"
        "redis: redis-server --daemonize yes --pidfile /run/redis.pid\n",
    )
    result = run_installed("check", cwd=app)
    assert result.status == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split(": ", 3)[:3] for line in lines] == [
        ["Procfile:2", "warning", "web"],
        ["Procfile:3", "warning", "worker"],
        ["Procfile:3", "warning", "worker"],
        ["Procfile:4", "warning", "redis"],
        ["Procfile:4", "warning", "redis"],
    ]
    assert "puma -d puts the server in the background" in lines[0]
    assert "'&' sends a command to the background" in lines[1]
    assert "'nohup'" in lines[2]
    assert "'--daemonize' puts the server in the background" in lines[3]
    assert "'--pidfile' writes a PID file" in lines[4]


def test_json_output_for_pipelines(tmp_path):
    app = write_app(tmp_path / "shop", "web: node server.js\nworker: work\n")
    result = run_installed("check", "--format", "json", cwd=app)
    assert result.status == 1
    report = json.loads(result.stdout)
    assert report["status"] == 1
    (finding,) = report["findings"]
    assert {k: v for k, v in finding.items() if k != "message"} == {
        "file": "Procfile",
        "line": 1,
        "type": "web",
        "severity": "warning",
    }
    assert finding["message"].startswith("never mentions PORT")


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        ({"Procfile": "web: a $PORT\nworker b\n"}, [], "Procfile:2: error: expected 'name: "),
        ({".env": "A=1\nB\n"}, [], ".env:2: error: expected KEY=value"),
        ({"formation.toml": "app = 'x'\nprots = 1\n"}, [], "formation.toml:2: error: prots: "),
        ({}, ["-e", "a.env,missing.env"], "missing.env: error: no such file"),
        ({}, ["-m", "nope=1"], "procexport: error: --formation nope: the Procfile has no"),
        ({}, ["-c", "web=x"], "procexport: error: --formation 'web=x': count must be"),
        ({}, ["-f", "Nope"], "Nope: error: no such file"),
        ({}, ["-F", "none.toml"], "none.toml: error: no such file"),
        (
            {"formation.toml": "[process.worker]\nport = 5000\n"},
            [],
            "procexport: error: web.1 and worker.1 would both get port 5000",
        ),
    ],
)
def test_input_errors_exit_2_as_a_finding(tmp_path, files, args, expected):
    app = write_app(tmp_path / "shop", "web: a $PORT\nworker: b\n")
    (app / "a.env").write_text("A=1\n")
    for name, text in files.items():
        (app / name).write_text(text)
    before = snapshot(app)
    result = run_installed("check", *args, cwd=app)
    assert result.status == 2, result
    assert result.stdout.startswith(expected)
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert snapshot(app) == before
    as_json = json.loads(run_installed("check", "--format", "json", *args, cwd=app).stdout)
    assert as_json["status"] == 2
    assert [f["severity"] for f in as_json["findings"]] == ["error"]


def test_options_name_the_inputs_like_an_export(tmp_path):
    app = write_app(tmp_path / "shop", "web: a $PORT\n", dotenv="A=1\n")
    (app / "srv").mkdir()
    (app / "srv" / "Procfile.prod").write_text("// procfile-util comment\nweb: nohup a $PORT\n")
    (app / "srv" / "prod.toml").write_text("procfile = 'Procfile.prod'\n")
    result = run_installed("check", "-F", "srv/prod.toml", cwd=app)
    assert result.status == 1
    assert result.stdout.startswith("srv/Procfile.prod:2: warning: web: 'nohup'")


def test_usage_errors_of_check_are_one_line_exit_2(tmp_path):
    app = write_app(tmp_path / "shop", "web: a $PORT\n")
    for args, message in (
        (["--bogus"], "No such option: --bogus"),
        (["--format", "xml"], "--format 'xml': use text or json"),
    ):
        result = run_installed("check", *args, cwd=app)
        assert result.status == 2
        assert result.stderr.startswith("procexport: error: ")
        assert message in result.stderr
        assert result.stderr.count("\n") == 1


def test_check_help_names_the_exit_statuses(tmp_path):
    result = run_installed("check", "--help", cwd=tmp_path)
    assert result.status == 0
    assert "Exit 0 clean, 1 warnings, 2 errors" in " ".join(result.stdout.split())
    for option in ("--procfile", "--formation-file", "--formation", "--env", "--format"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("sidekiq &", "'&' sends a command to the background"),
        ("a & b", "'&' sends a command to the background"),
        ("nohup ./worker", "'nohup'"),
        ("setsid ./worker", "'setsid' moves it out of the process group"),
        ("/usr/bin/daemon -- ./worker", "'daemon' forks it into the background"),
        ("X=1 start-stop-daemon --start --exec ./w", "'start-stop-daemon'"),
        ("gunicorn -D app:app", "gunicorn -D puts the server in the background"),
        ("gunicorn --daemon app:app", "'--daemon' puts the server in the background"),
        ("uwsgi --daemonize=/var/log/u.log", "'--daemonize' puts the server in the background"),
        ("celery multi start w --detach", "'--detach' puts the server in the background"),
        ("mongod --fork", "'--fork' puts the server in the background"),
        ("bundle exec rails server -d", "rails -d puts the server in the background"),
        ("memcached -d -m 64", "memcached -d puts the server in the background"),
        ("unicorn -D -c u.rb", "unicorn -D puts the server in the background"),
        ("echo 'daemonize yes' | redis-server -", "'daemonize yes' puts the server"),
        ("redis-server --pid-file=/run/r.pid", "'--pid-file' writes a PID file"),
        ("nginx -c /etc/nginx.conf", "nginx forks into the background unless"),
        ("cd app && (nohup worker)", "'nohup'"),
    ],
)
def test_what_detaches_from_the_process_manager_is_a_warning(command, expected):
    (message,) = lint(f"worker: {command}\n")
    assert message.startswith("worker: ")
    assert expected in message


@pytest.mark.parametrize(
    "command",
    [
        "./worker 2>&1",
        "./worker &> /dev/null",
        "./worker >&2",
        "a && b || c",
        "echo 'a & b' \"nohup\" && worker",
        "redis-server --daemonize no",
        "redis-server --daemonize=no",
        "gunicorn --daemon=false app:app",
        "nginx -g 'daemon off;'",
        "python -d worker.py",
        "cut -d, -f1 data | sort -d",
        "docker-compose logs -f",
        "tar -czf backup.tgz -d .",
        "ls --pid",
        "worker --nohup-protection",
    ],
)
def test_what_only_looks_like_detaching_is_not_a_finding(command):
    assert lint(f"worker: {command}\n") == []


@pytest.mark.parametrize(
    "command",
    [
        "python3 -m http.server $PORT",
        "rackup -p ${PORT}",
        "serve --listen 0.0.0.0:${PORT:-5000}",
        'node server.js --port="$PORT"',
        "node server.js  # reads PORT itself",
        "gunicorn app:app",
        "bundle exec puma -C config/puma.rb",
        "bin/rails server",
        "bundle exec rails s",
    ],
)
def test_a_web_type_that_reads_port_is_not_a_finding(command):
    assert lint(f"web: {command}\nworker: work\n") == []


@pytest.mark.parametrize(
    "command", ["node server.js", "serve --port $PORTAL", "SERVER_PORT=80 serve", "port"]
)
def test_a_web_type_that_never_reads_port_is_a_warning(command):
    assert lint(f"web: {command}\n") == [
        "web: never mentions PORT: pass $PORT to the server (e.g. --port $PORT), or mention "
        "PORT in a trailing `# reads PORT` comment if the app reads it itself"
    ]


def test_only_the_web_type_must_read_port():
    assert lint("worker: node worker.js\nclock: sleep infinity\n") == []


def test_an_unterminated_quote_is_a_warning_not_a_crash():
    assert lint("worker: echo 'oops\n") == ["worker: the command has an unterminated quote"]


FIXED = (
    "listens on the fixed port {}: every instance would take the same one; use $PORT, which "
    "procexport sets per instance"
)


@pytest.mark.parametrize(
    ("command", "port"),
    [
        ("gunicorn -b 0.0.0.0:8000 app:app", "8000"),
        ("gunicorn --bind=127.0.0.1:8001 app:app", "8001"),
        ("bundle exec rails server -p 3000", "3000"),
        ("uvicorn app:app --port=9000", "9000"),
        ("bundle exec puma -p 4000", "4000"),
    ],
)
def test_a_fixed_port_is_a_warning(command, port):
    assert f"web: {FIXED.format(port)}" in lint(f"web: {command}\n")


@pytest.mark.parametrize(
    "command",
    [
        "gunicorn -b 0.0.0.0:$PORT app:app",
        "mkdir -p 755 && serve --port $PORT",
        "ssh -p 22 host tunnel $PORT",
        "rails server -p ${PORT:-3000}",
    ],
)
def test_a_port_from_the_environment_or_another_meaning_of_p_is_not_a_finding(command):
    assert lint(f"web: {command}\n") == []


def test_a_hash_inside_a_word_does_not_hide_what_follows():
    assert lint("worker: run a#b --daemon\n") == [
        "worker: '--daemon' puts the server in the background: the process manager runs it in "
        "the foreground, leave the option out"
    ]
