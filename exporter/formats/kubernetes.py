"""Kubernetes: per process type a Deployment (and a Service when it listens), its environment
in a ConfigMap and the .env values in a Secret, listed in a kustomization.yaml.

Every manifest is built as data and written by PyYAML's safe dumper: quoting is the
serializer's job, widened by `yaml_needs_quotes` to what kubectl's YAML 1.1 reader (go-yaml v2)
and YAML 1.2 readers resolve to something else than a string. What Kubernetes itself interprets
is escaped here: `$(VAR)` in a container command.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from typing import Any

from exporter.errors import ExportError
from exporter.formats import File, Format, RenderContext, Rendering
from exporter.plan import Plan, Process

# metadata.name of Deployments, ConfigMaps, Secrets (DNS-1123 subdomain; we keep to a label)
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Service names (DNS-1035 label): a letter first
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
STOP_SIGNAL_SINCE = (1, 33)  # lifecycle.stopSignal exists in the API from 1.33
PORT_NAME = "port"
HASH_ANNOTATION = "procexport/config-hash"

# Plain scalars that a YAML reader may take for a bool, null or merge key: go-yaml v2's
# resolveMap (y, n, yes, on, off, ... in three spellings; checked in any case here), YAML 1.1
# (`=`), YAML 1.2 core (true, false, null, ~, empty).
_NOT_A_STRING = frozenset(
    ["", "~", "y", "n", "yes", "no", "on", "off", "true", "false", "null", "<<", "="]
)
# Anything starting like a number: ints in every base (0800, 0o17, 0x1f, 0b1, 1_000), floats
# (1e3, +.5, .inf, -.Inf, .nan), sexagesimal (1:20) and timestamps (2001-12-14 ...).
_NUMBER_START = re.compile(r"[-+]?[.0-9]")


def kubernetes_command_arg(value: str) -> str:
    """A command word that the kubelet's `$(VAR)` expansion turns back into `value`: every
    `$` doubled, since `$$` is its escape for `$`."""
    return value.replace("$", "$$")


def render_kubernetes(plan: Plan, context: RenderContext) -> Rendering:
    settings = plan.kubernetes
    if not settings.image:
        raise ExportError(
            "kubernetes needs an image: --image IMAGE, or `image` under [kubernetes] in "
            "formation.toml"
        )
    if any(c.isspace() or not c.isprintable() for c in settings.image):
        raise ExportError(f"kubernetes cannot use the image {settings.image!r}: no white space")
    _check_name(plan.app, "the app name")
    if settings.namespace is not None:
        _check_name(settings.namespace, "the namespace")
    files: dict[str, dict[str, Any]] = {}
    secrets = _secret_env(plan)
    if secrets:
        files[f"{plan.app}-secret.yaml"] = _secret(plan, secrets)
    for process in plan.processes:
        name = f"{plan.app}-{process.name}"
        _check_name(name, "the name of the Deployment")
        if process.type.service and not DNS_1035_LABEL.fullmatch(name):
            raise ExportError(f"kubernetes cannot name the Service {name!r}: start with a letter")
        config = {var.name: var.value for var in process.type.env if not var.secret}
        if config:
            files[f"{name}-configmap.yaml"] = _config_map(plan, process, config)
        files[f"{name}-deployment.yaml"] = _deployment(plan, process, config, secrets)
        if process.type.service:
            files[f"{name}-service.yaml"] = _service(plan, process)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if settings.namespace is not None:
        kustomization["namespace"] = settings.namespace
    kustomization["resources"] = list(files)
    files["kustomization.yaml"] = kustomization
    return {
        path: File(_yaml(plan, manifest), mode=0o600 if manifest.get("kind") == "Secret" else 0o644)
        for path, manifest in files.items()
    }


def _check_name(name: str, what: str) -> None:
    if len(name) > 63 or not DNS_LABEL.fullmatch(name):
        raise ExportError(
            f"kubernetes cannot use {name!r} as {what}: use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )


def _metadata(plan: Plan, name: str, process: Process | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if plan.kubernetes.namespace is not None:
        metadata["namespace"] = plan.kubernetes.namespace
    metadata["labels"] = _labels(plan, process)
    return metadata


def _labels(plan: Plan, process: Process | None) -> dict[str, str]:
    """Valid label values: the app and the process type are checked DNS labels already."""
    labels = {"app": plan.app}
    if process is not None:
        labels["process-type"] = process.name
    return labels


def _secret_env(plan: Plan) -> dict[str, str]:
    """The .env values that reach at least one process type (the same value in each)."""
    return {var.name: var.value for p in plan.processes for var in p.type.env if var.secret}


def _secret(plan: Plan, secrets: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(plan, f"{plan.app}-env"),
        "type": "Opaque",
        "data": {
            name: base64.b64encode(value.encode("utf-8")).decode("ascii")
            for name, value in secrets.items()
        },
    }


def _config_map(plan: Plan, process: Process, config: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(plan, f"{plan.app}-{process.name}-env", process),
        "data": config,
    }


def _deployment(
    plan: Plan, process: Process, config: dict[str, str], secrets: dict[str, str]
) -> dict[str, Any]:
    ptype = process.type
    labels = _labels(plan, process)
    env_from: list[dict[str, Any]] = []
    if secrets:  # first: a ConfigMap listed later wins over it, as [env] beats .env
        env_from.append({"secretRef": {"name": f"{plan.app}-env"}})
    if config:
        env_from.append({"configMapRef": {"name": f"{plan.app}-{process.name}-env"}})
    container: dict[str, Any] = {
        "name": process.name,
        "image": plan.kubernetes.image,
        "command": [kubernetes_command_arg(word) for word in (plan.shell, "-c", ptype.command)],
    }
    if plan.kubernetes.root_given:
        container["workingDir"] = plan.root
    if env_from:
        container["envFrom"] = env_from
    container["env"] = [
        {"name": "PORT", "value": str(ptype.port)},
        {"name": "PS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    container["ports"] = [{"name": PORT_NAME, "containerPort": ptype.port}]
    if ptype.service:
        container["readinessProbe"] = {"tcpSocket": {"port": PORT_NAME}}
    container["lifecycle"] = _stop(plan, ptype.stop_signal)
    if ptype.user.isdigit():
        container["securityContext"] = {"runAsUser": int(ptype.user)}
    pod_spec: dict[str, Any] = {"terminationGracePeriodSeconds": ptype.timeout}
    if plan.kubernetes.version >= STOP_SIGNAL_SINCE:
        pod_spec["os"] = {"name": "linux"}  # stopSignal is only valid with an OS set
    pod_spec["containers"] = [container]
    config_hash = hashlib.sha256(
        json.dumps([config, secrets], sort_keys=True).encode("utf-8")
    ).hexdigest()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(plan, f"{plan.app}-{process.name}", process),
        "spec": {
            "replicas": len(process.instances),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": dict(labels),  # a copy: YAML would otherwise write an alias
                    "annotations": {HASH_ANNOTATION: config_hash},
                },
                "spec": pod_spec,
            },
        },
    }


def _stop(plan: Plan, signal: str) -> dict[str, Any]:
    """The stop signal reaches the app however /bin/sh runs it.

    The container's PID 1 is the shell. A shell that forks the command (dash) ignores signals
    as PID 1, so a preStop hook sends the signal to every other process in the container.
    A shell that execs the command makes the app PID 1: Kubernetes 1.33+ sends it
    lifecycle.stopSignal; before 1.33 the hook also signals PID 1 (which the shell ignores)."""
    kill = f"kill -s {signal} -- -1"
    lifecycle: dict[str, Any] = {}
    if plan.kubernetes.version >= STOP_SIGNAL_SINCE:
        lifecycle["stopSignal"] = f"SIG{signal}"
    elif signal != "TERM":
        kill += f"; kill -s {signal} 1"
    lifecycle["preStop"] = {"exec": {"command": ["/bin/sh", "-c", kill]}}
    return lifecycle


def _service(plan: Plan, process: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(plan, f"{plan.app}-{process.name}", process),
        "spec": {
            "selector": _labels(plan, process),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": process.type.port,
                    "targetPort": PORT_NAME,
                }
            ],
        },
    }


def yaml_needs_quotes(value: str) -> bool:
    """Whether a string written plain could be read back as something else by some YAML
    reader: kubectl's go-yaml v2 (YAML 1.1 rules: `y`, `N`, `0800`, `1e3` are no strings
    there), YAML 1.2 core, or PyYAML. Wider than any one of them: quoting costs nothing."""
    return value.casefold() in _NOT_A_STRING or _NUMBER_START.match(value) is not None


@functools.cache
def _dumper() -> type:
    import yaml

    class Dumper(yaml.SafeDumper):
        def represent_str(self, data: str) -> Any:
            style = "'" if yaml_needs_quotes(data) else None
            return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, Dumper.represent_str)
    return Dumper


def _yaml(plan: Plan, manifest: dict[str, Any]) -> str:
    import yaml

    from exporter.templating import comment_text

    header = (
        f"# Generated by procexport from {comment_text(plan.procfile)}; "
        "re-export rather than edit.\n"
    )
    return header + yaml.dump(
        manifest,
        Dumper=_dumper(),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def kubernetes_next_steps(app: str, changed: list[str], removed: list[str]) -> list[str]:
    steps = ["kubectl apply -k LOCATION"]
    for path in removed:  # apply does not delete what a kustomization no longer lists
        stem, _, kind = path.removesuffix(".yaml").rpartition("-")
        if kind in ("deployment", "service"):
            steps.append(f"kubectl delete {kind} {stem}")
        elif kind in ("configmap", "secret"):
            steps.append(f"kubectl delete {kind} {stem}-env")
    return steps


FORMAT = Format(
    name="kubernetes",
    filters={"kubernetes_command_arg": kubernetes_command_arg},
    render=render_kubernetes,
    next_steps=kubernetes_next_steps,
    uses_env_files=False,  # .env values always go to a Secret
)
