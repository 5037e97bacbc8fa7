"""kubernetes output: the Kubernetes schemas (kubernetes-validate, strict), what the schemas
do not check, and a round trip through the kubelet's own rules to the probe."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from signal import SIGKILL

import helpers
import kubernetes_validate
import pytest
import yaml
from helpers import (
    NASTY_COMMANDS,
    NASTY_VALUES,
    PROBE_COMMAND,
    dotenv_line,
    expected_port,
    run_probe,
    sh_c_reference,
    wait_for_records,
    write_app,
)
from kubelet_model import container_argv, container_environment, expand
from yaml_resolvers import go_yaml_v2_kind, yaml_12_kind

OLDEST, NEWEST = "1.25.0", "1.37.0"
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def export(procexport, app: Path, out: Path, *args: str) -> dict[str, dict]:
    result = helpers.export(procexport, app, "kubernetes", out, *args, image="registry.test/app:1")
    assert result.status == 0, result.stderr
    return {p.name: yaml.safe_load(p.read_bytes().decode()) for p in sorted(out.glob("*.yaml"))}


def objects_of(manifests: dict[str, dict]) -> dict[tuple[str, str], dict]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests.values() if "metadata" in m}


def nasty_app(tmp_path: Path, **formation) -> Path:
    procfile = "".join(f"{name.replace('_', '-')}: {cmd}\n" for name, cmd in NASTY_COMMANDS.items())
    dotenv = "".join(dotenv_line(k, v) for k, v in NASTY_VALUES.items())
    formation.setdefault("env", {"FROM_TOML": "toml $(PORT) $$ %i"})
    return write_app(tmp_path / "nasty", procfile, {"app": "nasty", **formation}, dotenv)


@pytest.mark.parametrize("target", ["1.25", "1.33", "1.37"])
def test_every_manifest_is_valid_for_the_oldest_and_newest_supported_kubernetes(
    procexport, tmp_path, target
):
    app = nasty_app(
        tmp_path,
        kubernetes={"version": target, "namespace": "shop-prod"},
        process={"quotes": {"stop_signal": "QUIT", "service": True}},
    )
    manifests = export(procexport, app, tmp_path / "out", "-m", "all=2")
    versions = [OLDEST, NEWEST] if target == "1.25" else [f"{target}.0", NEWEST]
    for manifest in manifests.values():
        if manifest["kind"] == "Kustomization":
            continue
        for version in versions:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_stop_signal_is_set_only_for_versions_that_have_it(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop", "worker: work\n", {"process": {"worker": {"stop_signal": "QUIT"}}}
    )
    old = export(procexport, app, tmp_path / "old")["shop-worker-deployment.yaml"]
    (app / "formation.toml").write_text(
        (app / "formation.toml").read_text() + '[kubernetes]\nversion = "1.33"\n'
    )
    new = export(procexport, app, tmp_path / "new")["shop-worker-deployment.yaml"]
    old_container = old["spec"]["template"]["spec"]["containers"][0]
    new_container = new["spec"]["template"]["spec"]["containers"][0]
    assert "stopSignal" not in old_container["lifecycle"]
    assert old_container["lifecycle"]["preStop"]["exec"]["command"][2] == (
        "kill -s QUIT -- -1; kill -s QUIT 1"
    )
    assert new_container["lifecycle"]["stopSignal"] == "SIGQUIT"
    assert new_container["lifecycle"]["preStop"]["exec"]["command"][2] == "kill -s QUIT -- -1"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(new, OLDEST, strict=True)


def test_what_the_schemas_miss(procexport, tmp_path):
    app = nasty_app(tmp_path, process={"percent": {"service": True}})
    manifests = export(procexport, app, tmp_path / "out", "-m", "all=3")
    objects = objects_of(manifests)
    kustomization = manifests.pop("kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(manifests)
    services = [m for m in manifests.values() if m["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == ["nasty-percent"]
    for manifest in manifests.values():
        name = manifest["metadata"]["name"]
        assert DNS_1123.fullmatch(name) and len(name) <= 63, name
        if manifest["kind"] != "Deployment":
            continue
        spec = manifest["spec"]
        assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
        assert spec["replicas"] == 3
        (container,) = spec["template"]["spec"]["containers"]
        for source in container["envFrom"]:
            kind, ref = (
                ("Secret", source["secretRef"])
                if "secretRef" in source
                else ("ConfigMap", source["configMapRef"])
            )
            assert (kind, ref["name"]) in objects
    for service in services:
        (deployment,) = [
            m
            for m in manifests.values()
            if m["kind"] == "Deployment"
            and m["spec"]["template"]["metadata"]["labels"] == service["spec"]["selector"]
        ]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        assert service["spec"]["ports"][0]["targetPort"] in port_names
        assert container["readinessProbe"]["tcpSocket"]["port"] in port_names


def test_the_kubelet_starts_each_container_with_the_sh_c_argv_and_environment(procexport, tmp_path):
    app = nasty_app(tmp_path)
    manifests = export(procexport, app, tmp_path / "out")
    objects = objects_of(manifests)
    out = tmp_path / "probe.jsonl"
    for index, (name, command) in enumerate(NASTY_COMMANDS.items()):
        deployment = objects[("Deployment", f"nasty-{name.replace('_', '-')}")]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        pod = f"nasty-{name.replace('_', '-')}-7d9c5b6f4-x2x9q"
        env = container_environment(container, objects, pod)
        assert env == NASTY_VALUES | {
            "FROM_TOML": "toml $(PORT) $$ %i",
            "PORT": str(expected_port(index)),
            "PS": pod,
        }, name
        argv = container_argv(container, env)
        assert argv == ["/bin/sh", "-c", command], name
        got = run_probe(argv, env, Path(container.get("workingDir", app)), out)
        want = sh_c_reference(command, env, app, out)
        assert got == want and want, name


def test_the_kubelet_expansion_model_follows_kubernetes():
    env = {"A": "x", "B": "$(A)"}
    assert expand("$(A)-$$(A)-$$-$(MISSING)-$x-$(open", env) == "x-$(A)-$-$(MISSING)-$x-$(open"


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
    reason="needs root, unshare and nsenter to give the container its own PID namespace",
)
@pytest.mark.parametrize("signal", ["TERM", "QUIT"])
def test_the_pre_stop_hook_delivers_the_stop_signal_to_the_app(procexport, tmp_path, signal):
    out = tmp_path / "probe.jsonl"
    app = write_app(
        tmp_path / "shop",
        f"worker: {PROBE_COMMAND} worker --wait\n",
        {"process": {"worker": {"stop_signal": signal}}},
    )
    manifests = export(procexport, app, tmp_path / "out")
    (container,) = manifests["shop-worker-deployment.yaml"]["spec"]["template"]["spec"][
        "containers"
    ]
    env = container_environment(container, objects_of(manifests), "shop-worker-abc") | {
        "PROBE_OUT": str(out),
        "PROBE_WAIT": "1",
    }
    argv = container_argv(container, env)
    pod = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *argv], env=env, cwd=app)
    try:
        # the file can exist before its first line does (the probe's write)
        (start,) = wait_for_records(out, 1, timeout=20)
        # unshare --fork: its child is the container's PID 1, the shell
        shell = subprocess.run(
            ["pgrep", "-P", str(pod.pid)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        hook = subprocess.run(["nsenter", "-t", shell, "-p", "-m", *pre_stop], timeout=10)
        pod.wait(timeout=20)
    finally:
        pod.kill()
    # Once the app has its signal it exits, the shell (PID 1) follows, and the kernel kills
    # whatever is left in the PID namespace: the hook too, if it is still between its `kill`s
    # (nsenter passes the SIGKILL on). On a cluster that is a FailedPreStopHook event after the
    # signal was delivered; the delivery itself is what counts.
    assert hook.returncode in (0, -SIGKILL), hook.returncode
    start, stop = wait_for_records(out, 2, timeout=20)
    assert (stop["event"], stop["signal"], stop["pid"]) == ("signal", f"SIG{signal}", start["pid"])


def test_secrets_go_to_a_0600_secret_and_nowhere_else(procexport, tmp_path):
    app = write_app(
        tmp_path / "shop", "web: serve\n", {"env": {"PUBLIC": "yes"}}, 'DB_PASSWORD="hunter2"\n'
    )
    out = tmp_path / "out"
    manifests = export(procexport, app, out)
    assert (out / "shop-secret.yaml").stat().st_mode & 0o777 == 0o600
    secret = manifests["shop-secret.yaml"]
    assert secret["data"] == {"DB_PASSWORD": "aHVudGVyMg=="}
    for path in out.glob("*.yaml"):
        if path.name != "shop-secret.yaml":
            assert "hunter2" not in path.read_text()
            assert path.stat().st_mode & 0o777 == 0o644


def test_a_changed_environment_changes_the_pod_template(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n", {"env": {"A": "1"}})
    first = export(procexport, app, tmp_path / "one")["shop-web-deployment.yaml"]
    (app / "formation.toml").write_text('[env]\nA = "2"\n')
    second = export(procexport, app, tmp_path / "two")["shop-web-deployment.yaml"]
    annotation = "procexport/config-hash"
    assert (
        first["spec"]["template"]["metadata"]["annotations"][annotation]
        != second["spec"]["template"]["metadata"]["annotations"][annotation]
    )


@pytest.mark.parametrize(
    ("args", "formation", "message"),
    [
        ([], {}, "kubernetes needs an image"),
        (["--image", "registry/app:1 --privileged"], {}, "kubernetes cannot use the image"),
        (["--image", "x", "-a", "Shop"], {}, "kubernetes cannot use 'Shop' as the app name"),
        (
            ["--image", "x"],
            {"kubernetes": {"namespace": "Prod_1"}},
            "kubernetes cannot use 'Prod_1' as the namespace",
        ),
    ],
)
def test_what_kubernetes_cannot_name_is_refused(procexport, tmp_path, args, formation, message):
    app = write_app(tmp_path / "shop", "web: serve\n", formation)
    result = procexport("kubernetes", str(tmp_path / "out"), *args, cwd=app)
    assert result.status == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_scaling_and_dry_run_use_the_same_destination_rules(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n")
    out = tmp_path / "out"
    export(procexport, app, out, "-m", "web=2,worker=1")
    result = procexport(
        "kubernetes",
        str(out),
        "--image",
        "registry.test/app:1",
        "--dry-run",
        "-m",
        "web=2,worker=0",
        cwd=app,
    )
    assert result.status == 1
    assert "deleted file mode 0644\n--- a/shop-worker-deployment.yaml" in result.stdout
    export(procexport, app, out, "-m", "web=2,worker=0")
    assert not (out / "shop-worker-deployment.yaml").exists()


def test_next_steps_delete_what_apply_would_leave_behind(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\nworker: work\n", {"env": {"A": "1"}})
    out = tmp_path / "out"
    procexport("kubernetes", str(out), "--image", "i:1", cwd=app)
    result = procexport("kubernetes", str(out), "--image", "i:1", "-m", "web=1,worker=0", cwd=app)
    assert "  kubectl apply -k LOCATION\n" in result.stderr
    assert "  kubectl delete configmap shop-worker-env\n" in result.stderr
    assert "  kubectl delete deployment shop-worker\n" in result.stderr


def test_env_mode_file_does_not_apply_to_kubernetes(procexport, tmp_path):
    app = write_app(tmp_path / "shop", "web: serve\n", {"env_mode": "file"}, "A=1\n")
    result = procexport("kubernetes", "--image", "i:1", cwd=app)
    assert result.status == 0
    assert "==> shop-secret.yaml <==" in result.stdout


# Strings that YAML 1.1 (go-yaml v2, PyYAML) or YAML 1.2 readers take for something else.
NOT_STRINGS_UNQUOTED = [
    "y", "Y", "n", "N", "yes", "No", "on", "OFF", "true", "False", "null", "~", "", "<<", "=",
    "0800", "012", "0o17", "0x1F", "0b101", "-0b1", "1_000", "+1", "-1", "5000", "1e3", "1E-3",
    "+.5", ".5", "-.5e3", "1.", ".inf", "-.Inf", "+.INF", ".nan", "1:20", "-1:20:30.5",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "1e999",
    "99999999999999999999", "yEs", "NuLL",
]  # fmt: skip


def plain_scalars(text: str):
    """Every scalar written without quotes, with the tag PyYAML (YAML 1.1) resolves it to."""
    nodes = [yaml.compose(text)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.ScalarNode):
            if not node.style:
                yield node.value, node.tag.rsplit(":", 1)[1]
        elif isinstance(node, yaml.MappingNode):
            nodes.extend(item for pair in node.value for item in pair)
        else:
            nodes.extend(node.value)


def test_the_resolver_ports_read_the_issues_examples_as_non_strings():
    assert [go_yaml_v2_kind(v) for v in ["y", "N", "0800", "1e3", "0o17", "+.5", "1:20"]] == [
        "bool", "bool", "float", "float", "int", "float", "str"
    ]  # fmt: skip
    assert [yaml_12_kind(v) for v in ["0o17", "1e3", "true", "y", "0800"]] == [
        "int", "float", "bool", "str", "int"
    ]  # fmt: skip


def test_every_string_stays_a_string_for_go_yaml_v2_yaml_1_1_and_yaml_1_2(procexport, tmp_path):
    names = ["y", "N", "on", "null", "true", "yes", "Off"]
    env = {f"V{i}": value for i, value in enumerate(NOT_STRINGS_UNQUOTED)}
    env |= {name: value for name, value in zip(names, NOT_STRINGS_UNQUOTED, strict=False)}
    procfile = "y: true\noff: yes\n0800: 0800\n1e3: '1e3' 1:20 0x1F\n"
    app = write_app(
        tmp_path / "yaml",
        procfile,
        {"app": "0800", "env": env, "kubernetes": {"namespace": "1e3"}},
        "".join(dotenv_line(f"{name}_", "y") for name in names) + "on=1e3\n",
    )
    out = tmp_path / "out"
    manifests = export(procexport, app, out, "-d", "/0800", "-m", "all=2")
    checked = 0
    for path in sorted(out.glob("*.yaml")):
        for value, tag in plain_scalars(path.read_text()):
            kinds = (tag, go_yaml_v2_kind(value), yaml_12_kind(value))
            assert kinds in [("str",) * 3, ("int",) * 3], (path.name, value, kinds)
            checked += 1
    assert checked > 100
    (config_map,) = [m for m in manifests.values() if m["kind"] == "ConfigMap"][:1]
    assert config_map["data"] == env
    deployment = manifests["0800-y-deployment.yaml"]
    assert deployment["metadata"]["labels"] == {"app": "0800", "process-type": "y"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"][2] == "true"
    for manifest in manifests.values():
        if manifest["kind"] != "Kustomization":
            kubernetes_validate.validate(manifest, NEWEST, strict=True)


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kubectl_reads_every_manifest_back_exactly(procexport, tmp_path):
    # kubectl's own YAML reader (go-yaml v2, then JSON), offline: `label --local` prints the
    # object as kubectl read it. On a plain `y` it prints true, on `0800` 800.
    env = {f"V{i}": value for i, value in enumerate(NOT_STRINGS_UNQUOTED)}
    env |= {name: "1e3" for name in ["y", "N", "on", "null", "true", "yes", "Off"]}
    app = write_app(
        tmp_path / "yaml",
        "y: true\noff: yes\n0800: 0800\n",
        {"app": "0800", "env": env, "kubernetes": {"namespace": "1e3"}},
        "".join(dotenv_line(name, value) for name, value in NASTY_VALUES.items()),
    )
    out = tmp_path / "out"
    manifests = export(procexport, app, out, "-m", "all=2")
    for name, manifest in manifests.items():
        if manifest["kind"] == "Kustomization":
            continue
        result = subprocess.run(
            ["kubectl", "label", "--local", "-f", str(out / name), "checked=1", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        read = json.loads(result.stdout)
        del read["metadata"]["labels"]["checked"]
        assert read == manifest, name
