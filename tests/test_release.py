"""The release phase: runs once per start of the app, before the others, never restarted
after success; checked per format through the real parsers."""

from __future__ import annotations

import getpass
import os
import re
import time
from pathlib import Path

import helpers
import pytest
import systemd_oracle
from helpers import write_app

needs_systemd = pytest.mark.skipif(
    not systemd_oracle.available() and not os.environ.get("CI"),
    reason="systemd is not installed (CI installs it)",
)

PROCFILE = "web: serve\nrelease: ./migrate 100% $PS\nworker: work\n"


def export(procexport, app: Path, out: Path, format_name: str, *args: str) -> dict[str, str]:
    return helpers.export(procexport, app, format_name, out, *args).files


def release_app(tmp_path: Path, procfile: str = PROCFILE, **formation) -> Path:
    return write_app(tmp_path / "shop", procfile, {"app": "shop"} | formation)


# systemd -----------------------------------------------------------------------------------


@needs_systemd
def test_systemd_release_is_a_oneshot_that_every_instance_requires_and_follows(
    procexport, tmp_path
):
    app = release_app(tmp_path, formation={"web": 2, "worker": 1})
    files = export(procexport, app, tmp_path / "u", "systemd", "-l", "/var/log/shop")
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    release = units["shop-release.service"]
    assert (release.get("Type"), release.get("RemainAfterExit"), release.get("Restart")) == (
        "oneshot",
        "yes",
        "no",
    )
    assert release.get("TimeoutStartSec") == "infinity"  # a long migration is not cut off
    assert release.exec_start == [["/bin/sh", "-c", "./migrate 100% $$PS"]]
    assert (release.environment["PS"], release.environment["PORT"]) == ("release.1", "5100")
    assert release.properties["PartOf"] == ["shop.target (origin-file)"]
    assert release.get("StandardOutputFileToAppend") == "/var/log/shop/shop-release.log"
    assert "shop-release.service (origin-file)" in units["shop.target"].properties["Wants"]
    instances = ["shop-web@1.service", "shop-web@2.service", "shop-worker@1.service"]
    for name in instances:
        unit = units[name]
        assert "shop-release.service (origin-file)" in unit.properties["Requires"], name
        assert "shop-release.service (origin-file)" in unit.properties["After"], name
    # systemd's own view from the other side: the release is required by and ordered before
    # exactly the instances, and it is no template instance itself.
    assert sorted(release.properties["RequiredBy"]) == [
        f"{n} (destination-file)" for n in instances
    ]
    assert {f"{n} (destination-file)" for n in instances} <= set(release.properties["Before"])
    assert not any(name.startswith("shop-release@") for name in units)


@needs_systemd
def test_systemd_release_is_not_rerun_by_a_crash_restart_but_by_a_restart_of_the_app(
    procexport, tmp_path
):
    """What systemd does with these dependencies (systemd.unit(5), systemd.service(5)):

    - The automatic restart of a crashed web@2 is a start job for web@2, whose Requires=
      enqueues a start job for the release unit. RemainAfterExit=yes keeps a succeeded
      oneshot `active (exited)`, and a start job on an active unit does nothing: the
      migration is not rerun. (With RemainAfterExit=no it would be inactive again and run.)
    - `systemctl restart shop.target` propagates to every unit PartOf= it: the release unit
      (PartOf=shop.target) is stopped and started, so it runs again, and the instances
      (PartOf their type target, which is PartOf shop.target) start only after it succeeded,
      because of After=.
    - A failed release fails the instances' start jobs (Requires= + After=: "dependency").
    """
    app = release_app(tmp_path)
    files = export(procexport, app, tmp_path / "u", "systemd")
    units, _ = systemd_oracle.load_units(files, "shop.target")
    release = units["shop-release.service"]
    assert release.get("RemainAfterExit") == "yes"
    assert release.properties["PartOf"] == ["shop.target (origin-file)"]
    web_target = units["shop-web.target"]
    assert web_target.properties["PartOf"] == ["shop.target (origin-file)"]
    assert units["shop-web@1.service"].properties["PartOf"] == ["shop-web.target (origin-file)"]
    # the instances' restarts go through the restart policy, the release has none
    assert units["shop-web@1.service"].get("Restart") == "always"
    assert release.get("Restart") == "no"


@needs_systemd
def test_systemd_without_a_release_needs_nothing_extra(procexport, tmp_path):
    app = release_app(tmp_path, formation={"release": 0})
    files = export(procexport, app, tmp_path / "u", "systemd")
    assert "shop-release.service" not in files
    assert not any("shop-release" in text for text in files.values())
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    assert "shop-release.service" not in units


@needs_systemd
def test_systemd_release_with_only_the_release_running(procexport, tmp_path):
    app = release_app(tmp_path)
    files = export(procexport, app, tmp_path / "u", "systemd", "-m", "all=0")
    assert sorted(files) == ["shop-release.service", "shop.target"]
    units, warnings = systemd_oracle.load_units(files, "shop.target")
    assert warnings == []
    assert units["shop-release.service"].get("Type") == "oneshot"


def test_systemd_next_steps_stop_a_removed_release(procexport, tmp_path):
    app = release_app(tmp_path)
    out = tmp_path / "u"
    export(procexport, app, out, "systemd")
    result = procexport("systemd", str(out), "-m", "release=0", cwd=app)
    assert result.status == 0, result.stderr
    assert "systemctl stop shop-release.service" in result.stderr


# supervisord -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 1])
def test_supervisord_starts_the_release_once_first_and_never_again(procexport, tmp_path, status):
    """A real supervisord for 5 s: the release program starts exactly once, before the
    others, and is not restarted whether it succeeded or failed, while web keeps running."""
    from supervisor_harness import Supervisor, load_programs

    runs = tmp_path / "runs"
    app = write_app(
        tmp_path / "shop",
        f'web: sleep 1000\nrelease: echo "$PS" >> "$RUNS"; exit {status}\n',
        {"app": "shop", "env": {"RUNS": str(runs)}},
    )
    export(procexport, app, tmp_path / "out", "supervisord", "-u", getpass.getuser())
    conf = tmp_path / "out" / "shop.conf"
    loaded = load_programs(conf)
    release, web = loaded["shop-release"], loaded["shop-web-1"]
    assert (release.autorestart, release.startsecs, release.startretries) == (False, 0, 0)
    assert release.priority < web.priority
    with Supervisor(conf) as supervisor:
        started = time.monotonic()
        supervisor.wait_for({"shop:shop-web-1"}, "RUNNING", timeout=30)
        supervisor.wait_for({"shop:shop-release"}, "EXITED", timeout=30)
        time.sleep(max(0.0, 5 - (time.monotonic() - started)))  # watch: nothing may happen
        states = supervisor.status()
        log = (supervisor.home / "supervisord.log").read_text()
    assert states == {"shop:shop-release": "EXITED", "shop:shop-web-1": "RUNNING"}
    assert runs.read_text() == "release.1\n"
    assert log.count("spawned: 'shop-release'") == 1
    assert log.index("spawned: 'shop-release'") < log.index("spawned: 'shop-web-1'")


# Upstart -----------------------------------------------------------------------------------


class UpstartEvents:
    """init(5)'s event rules, as far as our `start on` lines use them, over jobs parsed by
    the libnih model: a job starts when every `EVENT JOB [KEY=VALUE]` term joined by `and`
    has been seen (then its terms reset); starting a job emits `starting JOB`, and the jobs
    that event starts finish starting (a task: runs to completion) before the job goes on,
    then `started JOB`; a task ends with `stopped JOB RESULT=ok|failed`."""

    def __init__(self, jobs: dict, results: dict[str, str]):
        self.jobs, self.results = jobs, results
        self.terms = {name: self._terms(job.start_on) for name, job in jobs.items()}
        self.seen: dict[str, set[int]] = {name: set() for name in jobs}
        self.running: set[str] = set()
        self.runs: list[str] = []  # every time a job's main process was started

    @staticmethod
    def _terms(start_on: list[str]) -> list[list[str]]:
        terms: list[list[str]] = [[]]
        for word in start_on:
            if word == "and":
                terms.append([])
            else:
                assert word not in ("or", "(", ")"), start_on
                terms[-1].append(word)
        return terms

    def emit(self, event: str, job: str, env: dict[str, str]) -> None:
        for name, terms in self.terms.items():
            if name in self.running:
                continue
            for index, (name_word, *args) in enumerate(terms):
                wanted = dict(arg.split("=", 1) for arg in args if "=" in arg)
                positional = [arg for arg in args if "=" not in arg]
                if (
                    name_word == event
                    and positional[:1] in ([job], [])
                    and all(env.get(k) == v for k, v in wanted.items())
                ):
                    self.seen[name].add(index)
            if len(self.seen[name]) == len(terms):
                self.seen[name].clear()
                self.start(name)

    def start(self, name: str) -> None:
        self.running.add(name)
        self.emit("starting", name, {})
        self.runs.append(name)
        self.emit("started", name, {})
        if self.jobs[name].task:
            self.running.discard(name)
            self.emit("stopped", name, {"RESULT": self.results.get(name, "ok")})

    def respawn(self, name: str) -> None:
        """A crashed service: Upstart takes it through stopping/starting again."""
        self.emit("stopping", name, {})
        self.emit("stopped", name, {"RESULT": "ok"})
        self.start(name)

    def stop_all(self) -> None:
        self.running.clear()


def upstart_jobs(procexport, tmp_path: Path, *args: str) -> dict:
    from upstart_model import parse_job

    app = release_app(tmp_path, formation={"web": 2, "worker": 1})
    files = export(procexport, app, tmp_path / "out", "upstart", *args)
    return {name.removesuffix(".conf"): parse_job(name, text) for name, text in files.items()}


def test_upstart_release_is_a_task_without_respawn_that_the_app_waits_for(procexport, tmp_path):
    from upstart_model import job_environment, main_process_argv

    jobs = upstart_jobs(procexport, tmp_path, "-l", "/var/log/shop")
    release = jobs["shop-release"]
    assert (release.task, release.respawn, release.respawn_limit) == (True, False, None)
    assert (release.start_on, release.stop_on) == (["starting", "shop"], ["stopping", "shop"])
    assert job_environment(release)["PS"] == "release.1"
    assert main_process_argv(release)[-1].strip() == (
        "exec /bin/sh -c './migrate 100% $PS' >> /var/log/shop/shop-release.log 2>&1"
    )
    for name in ("shop-web", "shop-worker"):
        assert jobs[name].start_on == [
            "started",
            "shop",
            "and",
            "stopped",
            "shop-release",
            "RESULT=ok",
        ]


def test_upstart_runs_the_release_once_per_start_before_the_others(procexport, tmp_path):
    jobs = upstart_jobs(procexport, tmp_path)
    events = UpstartEvents(jobs, {})
    events.start("shop")
    assert events.runs[:2] == ["shop-release", "shop"]
    assert sorted(events.runs[2:]) == sorted(
        ["shop-web", "shop-web-1", "shop-web-2", "shop-worker", "shop-worker-1"]
    )
    events.respawn("shop-web-2")  # a crash of one instance does not rerun it
    assert events.runs.count("shop-release") == 1
    assert events.runs.count("shop-web-2") == 2
    events.stop_all()  # a restart of the app (initctl stop shop; initctl start shop) does
    events.start("shop")
    assert events.runs.count("shop-release") == 2
    assert events.runs.count("shop-web-1") == 2


def test_upstart_starts_nothing_else_when_the_release_fails(procexport, tmp_path):
    jobs = upstart_jobs(procexport, tmp_path)
    events = UpstartEvents(jobs, {"shop-release": "failed"})
    events.start("shop")
    assert events.runs == ["shop-release", "shop"]


def test_upstart_without_a_release_keeps_the_plain_chain(procexport, tmp_path):
    jobs = upstart_jobs(procexport, tmp_path, "-m", "release=0")
    assert "shop-release" not in jobs
    assert jobs["shop-web"].start_on == ["starting", "shop"]
    events = UpstartEvents(jobs, {})
    events.start("shop")
    assert events.runs[-1] == "shop"  # jobs started on `starting shop` are running first
    assert len(events.runs) == len(set(events.runs)) == 6


# Kubernetes --------------------------------------------------------------------------------


def kubernetes_manifests(procexport, app: Path, out: Path, *args: str) -> dict[str, dict]:
    import yaml

    result = helpers.export(procexport, app, "kubernetes", out, *args, image="registry.test/app:1")
    assert result.status == 0, result.stderr
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))}


def release_job(manifests: dict[str, dict]) -> dict:
    (job,) = [m for m in manifests.values() if m.get("kind") == "Job"]
    return job


@pytest.mark.parametrize("version", ["1.25", "1.37"])
def test_kubernetes_release_is_a_valid_job_run_once_and_listed_in_the_kustomization(
    procexport, tmp_path, version
):
    import kubernetes_validate

    app = release_app(
        tmp_path,
        env={"RAILS_ENV": "production"},
        kubernetes={"version": version},
        process={"release": {"user": "1000"}},
    )
    manifests = kubernetes_manifests(procexport, app, tmp_path / "out")
    for manifest in manifests.values():
        if manifest["kind"] != "Kustomization":
            kubernetes_validate.validate(manifest, f"{version}.0", strict=True)
            kubernetes_validate.validate(manifest, "1.37.0", strict=True)
    assert "shop-release-job.yaml" in manifests["kustomization.yaml"]["resources"]
    assert "shop-release-configmap.yaml" in manifests["kustomization.yaml"]["resources"]
    assert "shop-release-deployment.yaml" not in manifests
    job = release_job(manifests)
    assert job["apiVersion"] == "batch/v1"
    assert re.fullmatch(r"shop-release-[0-9a-f]{10}", job["metadata"]["name"])
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 7 * 24 * 3600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["securityContext"] == {"runAsUser": 1000}


def test_kubernetes_release_container_runs_what_sh_c_would_with_the_same_environment(
    procexport, tmp_path
):
    from helpers import NASTY_VALUES, dotenv_line
    from kubelet_model import container_argv, container_environment

    values = {k: v for k, v in NASTY_VALUES.items() if k in ("DOLLAR", "PERCENT", "BOTH")}
    app = release_app(tmp_path, env={"FROM_TOML": "$(PORT) %i"})
    (app / ".env").write_text("".join(dotenv_line(k, v) for k, v in values.items()))
    manifests = kubernetes_manifests(procexport, app, tmp_path / "out")
    objects = {(m["kind"], m["metadata"]["name"]): m for m in manifests.values() if "metadata" in m}
    (container,) = release_job(manifests)["spec"]["template"]["spec"]["containers"]
    env = container_environment(container, objects, "shop-release-abc12-x2x9q")
    assert env == values | {
        "FROM_TOML": "$(PORT) %i",
        "PORT": "5100",
        "PS": "shop-release-abc12-x2x9q",
    }
    assert container_argv(container, env) == ["/bin/sh", "-c", "./migrate 100% $PS"]
    # the web Deployment sees the same .env and [env] values
    (web,) = manifests["shop-web-deployment.yaml"]["spec"]["template"]["spec"]["containers"]
    web_env = container_environment(web, objects, "pod")
    assert {k: web_env[k] for k in values} == values


def test_kubernetes_release_job_name_changes_with_what_it_runs_and_only_then(procexport, tmp_path):
    app = release_app(tmp_path, env={"A": "1"})
    (app / ".env").write_text("SECRET=one\n")

    def job_name(*args: str) -> str:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        return release_job(kubernetes_manifests(procexport, app, out, *args))["metadata"]["name"]

    first = job_name()
    assert job_name() == first  # an unchanged release is the same Job: not run again
    assert job_name("--image", "registry.test/app:2") != first  # a new image: a new release
    assert job_name("-m", "web=5,worker=0") == first  # scaling the others is no new release
    (app / ".env").write_text("SECRET=two\n")
    # no digest of a secret value in a world-readable file: a rotated secret is no new Job
    assert job_name() == first
    (app / "formation.toml").write_text('app = "shop"\n[env]\nA = "2"\n')
    assert job_name() != first
    (app / "Procfile").write_text(PROCFILE.replace("./migrate", "./migrate --all"))
    assert job_name() != first


def test_kubernetes_release_outside_the_formation(procexport, tmp_path):
    app = release_app(tmp_path)
    all_zero = kubernetes_manifests(procexport, app, tmp_path / "a", "-m", "all=0")
    assert sorted(all_zero) == ["kustomization.yaml", "shop-release-job.yaml"]
    off = kubernetes_manifests(procexport, app, tmp_path / "b", "-m", "release=0")
    assert not any("release" in name for name in off)


def test_kubernetes_next_steps_delete_a_removed_release_job_by_its_labels(procexport, tmp_path):
    app = release_app(tmp_path)
    out = tmp_path / "out"
    kubernetes_manifests(procexport, app, out)
    result = procexport(
        "kubernetes", str(out), "--image", "registry.test/app:1", "-m", "release=0", cwd=app
    )
    assert "  kubectl delete job -l app=shop,process-type=release\n" in result.stderr


# every format ------------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ["systemd", "supervisord", "upstart"])
def test_env_mode_file_gives_the_release_the_same_env_file(procexport, tmp_path, format_name):
    app = release_app(tmp_path, env_mode="file")
    (app / ".env").write_text("DATABASE_URL=postgres://u:p@db/x\n")
    out = tmp_path / "out"
    files = export(procexport, app, out, format_name, "-u", getpass.getuser())
    assert "postgres://" not in "".join(t for n, t in files.items() if not n.endswith(".env"))
    env_file = f"{out}/shop.env"
    release = {
        "systemd": "shop-release.service",
        "supervisord": "shop.conf",
        "upstart": "shop-release.conf",
    }[format_name]
    assert env_file in files[release]
    assert "postgres://u:p@db/x" in files["shop.env"]


def test_supervisord_refuses_a_group_for_the_release_too(procexport, tmp_path):
    app = release_app(tmp_path, process={"release": {"group": "staff"}})
    result = procexport("supervisord", cwd=app)
    assert (result.status, result.stdout) == (2, "")
    assert "supervisord cannot run release with group 'staff'" in result.stderr
