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
from collections.abc import Mapping
from typing import Any, NamedTuple

from exporter.errors import ExportError
from exporter.formation import Options
from exporter.formats import File, FileChange, Format, RenderContext, Rendering
from exporter.formats.shell import login_flag
from exporter.plan import Plan, Process
from exporter.rendering import generated_by, with_generated_by
from exporter.secret_digest import KEY_VARIABLE, keyed_digest

# metadata.name of Deployments, ConfigMaps, Secrets (DNS-1123 subdomain; we keep to a label)
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Service names (DNS-1035 label): a letter first
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
STOP_SIGNAL_SINCE = (1, 33)  # lifecycle.stopSignal exists in the API from 1.33
PORT_NAME = "port"
HASH_ANNOTATION = "procexport/config-hash"
# A finished release Job is kept a week (its logs stay readable), then garbage-collected.
RELEASE_TTL_SECONDS = 7 * 24 * 3600
# the annotation in a preview without LOCATION or PROCEXPORT_SECRET_KEY: no key to digest with
HASH_NOT_SHOWN = "not shown: a keyed digest, computed when written to a LOCATION"

# Plain scalars that a YAML reader may take for a bool, null or merge key: go-yaml v2's
# resolveMap (y, n, yes, on, off, ... in three spellings; checked in any case here), YAML 1.1
# (`=`), YAML 1.2 core (true, false, null, ~, empty).
_NOT_A_STRING = frozenset(
    ["", "~", "y", "n", "yes", "no", "on", "off", "true", "false", "null", "<<", "="]
)
# Anything starting like a number: ints in every base (0800, 0o17, 0x1f, 0b1, 1_000), floats
# (1e3, +.5, .inf, -.Inf, .nan), sexagesimal (1:20) and timestamps (2001-12-14 ...).
_NUMBER_START = re.compile(r"[-+]?[.0-9]")


class Kubernetes(NamedTuple):
    """Settings only the kubernetes format reads: formation.toml's [kubernetes] table, --image
    and [process.T].service, read by kubernetes_settings (the format's read_settings hook)."""

    image: str | None = None
    namespace: str | None = None
    version: tuple[int, int] = (1, 25)  # the Kubernetes version the manifests target
    service: Mapping[str, bool] = {}  # [process.T].service where it is set

    def has_service(self, type_name: str) -> bool:
        """A type is reachable through a Service: `web` unless told otherwise."""
        return self.service.get(type_name, type_name == "web")


def kubernetes_settings(file: Mapping[str, Any], options: Options) -> Kubernetes:
    """The format's own settings from the validated formation.toml and the command line."""
    table = file.get("kubernetes") or {}
    version = table.get("version") or "1.25"
    return Kubernetes(
        image=options.image or table.get("image"),
        namespace=table.get("namespace"),
        version=(1, int(version.split(".")[1])),
        service={
            name: settings["service"]
            for name, settings in (file.get("process") or {}).items()
            if settings and settings.get("service") is not None
        },
    )


def _settings(plan: Plan) -> Kubernetes:
    settings = plan.format_settings
    return settings if isinstance(settings, Kubernetes) else Kubernetes()


def kubernetes_command_arg(value: str) -> str:
    """A command word that the kubelet's `$(VAR)` expansion turns back into `value`: every
    `$` doubled, since `$$` is its escape for `$`."""
    return value.replace("$", "$$")


def render_kubernetes(plan: Plan, context: RenderContext) -> Rendering:
    settings = _settings(plan)
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
        name = process.full_name
        _check_name(name, "the name of the Deployment")
        if settings.has_service(process.name) and not DNS_1035_LABEL.fullmatch(name):
            raise ExportError(f"kubernetes cannot name the Service {name!r}: start with a letter")
        config = {var.name: var.value for var in process.type.env if not var.secret}
        if config:
            files[f"{name}-configmap.yaml"] = _config_map(plan, process, config)
        files[f"{name}-deployment.yaml"] = _deployment(plan, process, config, secrets, context)
        if settings.has_service(process.name):
            files[f"{name}-service.yaml"] = _service(plan, process)
    if plan.release is not None:
        files |= _release_manifests(plan, secrets)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if settings.namespace is not None:
        kustomization["namespace"] = settings.namespace
    kustomization["resources"] = list(files)
    files["kustomization.yaml"] = kustomization
    return {
        path: File(
            _yaml(plan, manifest), mode=0o600, entries=secret_entries, unit=_object(manifest)
        )
        if manifest.get("kind") == "Secret"
        else File(_yaml(plan, manifest), unit=_object(manifest))
        for path, manifest in files.items()
    }


def _object(manifest: dict[str, Any]) -> str | None:
    """KIND/NAME (kubectl's notation) of the object a manifest describes; None for the
    kustomization, which describes none."""
    if manifest["kind"] == "Kustomization":
        return None
    return f"{manifest['kind'].lower()}/{manifest['metadata']['name']}"


def _check_name(name: str, what: str) -> None:
    if len(name) > 63 or not DNS_LABEL.fullmatch(name):
        raise ExportError(
            f"kubernetes cannot use {name!r} as {what}: use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )


def _metadata(plan: Plan, name: str, process: Process | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if _settings(plan).namespace is not None:
        metadata["namespace"] = _settings(plan).namespace
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
    every = (*plan.processes, *([plan.release] if plan.release else []))
    return {var.name: var.value for p in every for var in p.type.env if var.secret}


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
        "metadata": _metadata(plan, f"{process.full_name}-env", process),
        "data": config,
    }


def _container(
    plan: Plan, process: Process, config: dict[str, str], secrets: dict[str, str], serves: bool
) -> dict[str, Any]:
    """The container of a type's pods (a Deployment's, or the release Job's): the command
    through the shell, the environment (Secret first: a ConfigMap listed later wins over it,
    as [env] beats .env), PORT and PS, the stop signal; with `serves`, its port."""
    ptype = process.type
    env_from: list[dict[str, Any]] = []
    if secrets:
        env_from.append({"secretRef": {"name": f"{plan.app}-env"}})
    if config:
        env_from.append({"configMapRef": {"name": f"{process.full_name}-env"}})
    container: dict[str, Any] = {
        "name": process.name,
        "image": _settings(plan).image,
        "command": [
            kubernetes_command_arg(word)
            for word in (plan.shell, *login_flag(ptype.login), "-c", ptype.command)
        ],
    }
    if plan.root_given:
        container["workingDir"] = plan.root
    if env_from:
        container["envFrom"] = env_from
    container["env"] = [
        {"name": "PORT", "value": str(process.port)},
        {"name": "PS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    if serves:
        container["ports"] = [{"name": PORT_NAME, "containerPort": process.port}]
        if _settings(plan).has_service(process.name):
            container["readinessProbe"] = {"tcpSocket": {"port": PORT_NAME}}
    container["lifecycle"] = _stop(plan, ptype.stop_signal)
    if ptype.user_setting is not None and ptype.user.isdigit():  # not the default: the app
        container["securityContext"] = {"runAsUser": int(ptype.user)}
    return container


def _pod_spec(plan: Plan, process: Process, container: dict[str, Any]) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"terminationGracePeriodSeconds": process.type.timeout}
    if _settings(plan).version >= STOP_SIGNAL_SINCE:
        pod_spec["os"] = {"name": "linux"}  # stopSignal is only valid with an OS set
    pod_spec["containers"] = [container]
    return pod_spec


def _deployment(
    plan: Plan,
    process: Process,
    config: dict[str, str],
    secrets: dict[str, str],
    context: RenderContext,
) -> dict[str, Any]:
    labels = _labels(plan, process)
    pod_spec = _pod_spec(plan, process, _container(plan, process, config, secrets, serves=True))
    config_hash = _config_hash(config, secrets, context)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(plan, process.full_name, process),
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


def _release_manifests(plan: Plan, secrets: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The release phase as a batch/v1 Job (and its ConfigMap): one pod that runs the
    command to completion, never retried (backoffLimit 0, restartPolicy Never).

    A Job's pod template cannot change, and an existing Job never runs again: the name
    carries a digest of everything the pod would run (image, command, settings, the
    ConfigMap's values and the names, not the values, of the secrets), so a changed release
    is a new Job that runs, and an unchanged one is left as it is."""
    process = plan.release
    assert process is not None
    ptype = process.type
    files: dict[str, dict[str, Any]] = {}
    config = {var.name: var.value for var in ptype.env if not var.secret}
    if config:
        files[f"{process.full_name}-configmap.yaml"] = _config_map(plan, process, config)
    container = _container(plan, process, config, secrets, serves=False)
    pod_spec = {"restartPolicy": "Never", **_pod_spec(plan, process, container)}
    digest = hashlib.sha256(
        json.dumps([pod_spec, config, sorted(secrets)], sort_keys=True).encode("utf-8")
    ).hexdigest()
    name = f"{process.full_name}-{digest[:10]}"
    _check_name(name, "the name of the release Job")
    files[f"{process.full_name}-job.yaml"] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(plan, name, process),
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": RELEASE_TTL_SECONDS,
            "template": {"metadata": {"labels": _labels(plan, process)}, "spec": pod_spec},
        },
    }
    return files


def _config_hash(config: dict[str, str], secrets: dict[str, str], context: RenderContext) -> str:
    """Changes whenever the environment does, so that the pods roll. A Deployment is read by
    more people than its Secret: over secrets, a keyed digest, never a plain hash to test
    guesses against."""
    payload = json.dumps([config, secrets], sort_keys=True).encode("utf-8")
    if not secrets:
        return hashlib.sha256(payload).hexdigest()
    digest = keyed_digest(context.key_dir, payload)
    if digest is None and context.env_dir is not None:  # written, yet no key to digest with
        raise ExportError(
            f"--destdir without --manifest has no place for the key of the config-hash over "
            f"secrets: set {KEY_VARIABLE} (the same for every build) or give --manifest PATH"
        )
    return digest or HASH_NOT_SHOWN


def secret_entries(text: str) -> dict[str, str]:
    """A Secret manifest's `data` by key, for a diff that names keys and never shows values;
    ValueError when the text is not such a manifest."""
    import yaml

    try:
        data = yaml.safe_load(text)["data"]
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise ValueError("not a Secret manifest") from exc
    if not isinstance(data, dict):
        raise ValueError("not a Secret manifest")
    return {str(key): str(value) for key, value in data.items()}


def _stop(plan: Plan, signal: str) -> dict[str, Any]:
    """The stop signal reaches the app however /bin/sh runs it.

    The container's PID 1 is the shell. A shell that forks the command (dash) ignores signals
    as PID 1, so a preStop hook sends the signal to every other process in the container.
    A shell that execs the command makes the app PID 1: Kubernetes 1.33+ sends it
    lifecycle.stopSignal; before 1.33 the hook also signals PID 1 (which the shell ignores)."""
    kill = f"kill -s {signal} -- -1"
    lifecycle: dict[str, Any] = {}
    if _settings(plan).version >= STOP_SIGNAL_SINCE:
        lifecycle["stopSignal"] = f"SIG{signal}"
    elif signal != "TERM":
        kill += f"; kill -s {signal} 1"
    lifecycle["preStop"] = {"exec": {"command": ["/bin/sh", "-c", kill]}}
    return lifecycle


def _service(plan: Plan, process: Process) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(plan, process.full_name, process),
        "spec": {
            "selector": _labels(plan, process),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": process.port,
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

    text = yaml.dump(
        manifest,
        Dumper=_dumper(),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return with_generated_by(text, generated_by(plan.procfile))


def kubernetes_unit_of(path: str) -> str | None:
    """The object (KIND/NAME) a manifest this format wrote at `path` describes: NAME-KIND.yaml,
    a ConfigMap's or Secret's NAME with -env (a release Job's name also carries a digest, which
    its path does not: the Job is deleted by its labels). None for kustomization.yaml."""
    stem, _, kind = path.removesuffix(".yaml").rpartition("-")
    if kind in ("deployment", "service", "job"):
        return f"{kind}/{stem}"
    if kind in ("configmap", "secret"):
        return f"{kind}/{stem}-env"
    return None


def kubernetes_next_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    steps = ["kubectl apply -k LOCATION"]
    for change in changes:  # apply does not delete what a kustomization no longer lists
        if change.action != "removed" or change.unit is None:
            continue
        kind, _, name = change.unit.partition("/")
        if kind == "job":  # its name carries a digest: select it by its labels
            steps.append(f"kubectl delete job -l app={app},process-type=release")
        else:
            steps.append(f"kubectl delete {kind} {name}")
    return steps


def kubernetes_package_steps(app: str, location: str) -> list[str]:
    """Manifests in a package are applied to a cluster, not by a maintainer script."""
    return [f"after install, from a machine with cluster access: kubectl apply -k {location}"]


def kubernetes_uninstall_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """The files are gone, so `kubectl delete -k` can no longer read them: each object by name
    (run `kubectl delete -k LOCATION` before --uninstall to the same effect)."""
    return [step for step in kubernetes_next_steps(app, changes, location) if " delete " in step]


FORMAT = Format(
    filters={},
    template_folder=None,  # PyYAML writes the manifests: no template to override
    writes_default_user=False,
    render=render_kubernetes,
    read_settings=kubernetes_settings,
    uninstall_steps=kubernetes_uninstall_steps,
    next_steps=kubernetes_next_steps,
    unit_of=kubernetes_unit_of,
    package_steps=kubernetes_package_steps,
    uses_env_files=False,  # .env values always go to a Secret
    names_root=False,  # no workingDir unless a root is given
    uses_log_dir=False,  # logs are the cluster's
)
