"""Expand a Formation into one Instance per running process: pure data, no I/O."""

from __future__ import annotations

from typing import NamedTuple

from exporter.errors import ExportError
from exporter.formation import RELEASE, EnvVar, Formation, ProcessType


def instance_port(type_port: int, number: int) -> int:
    """Instance N of a type listens on the type's port + N - 1 (the type's port is the base
    port + 100 per Procfile line, or its own `port`: formation.type_port); build_plan checks
    the range and collisions."""
    return type_port + number - 1


class Instance(NamedTuple):
    type: str
    number: int  # 1-based
    port: int
    app: str

    @property
    def ps(self) -> str:
        return f"{self.type}.{self.number}"

    @property
    def full_name(self) -> str:
        """APP-T-N, every format's name for the instance (unit, job, program, service, label);
        the release phase's one instance is APP-release."""
        if self.type == RELEASE:
            return f"{self.app}-{RELEASE}"
        return f"{self.app}-{self.type}-{self.number}"

    @property
    def env(self) -> tuple[EnvVar, ...]:
        """What differs per instance; it overrides the type's environment."""
        return (EnvVar("PORT", str(self.port), "instance"), EnvVar("PS", self.ps, "instance"))


class Process(NamedTuple):
    """A process type that runs, with its instances."""

    type: ProcessType
    instances: tuple[Instance, ...]
    app: str
    env_file: str | None = None  # --env-mode file: the file (in LOCATION) with its secrets

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def full_name(self) -> str:
        """APP-T: what every format names the type by (a target, a job, a Deployment), and
        the prefix of its instances' names."""
        return f"{self.app}-{self.name}"

    @property
    def port(self) -> int:
        """The port of instance 1 (Kubernetes gives it to every replica: each pod has its own
        address)."""
        return self.instances[0].port

    @property
    def inline_env(self) -> tuple[EnvVar, ...]:
        """The environment written into the configuration itself (no secrets in file mode)."""
        if self.env_file is None:
            return self.type.env
        return tuple(var for var in self.type.env if not var.secret)

    @property
    def secret_env(self) -> tuple[EnvVar, ...]:
        return tuple(var for var in self.type.env if var.secret)


class Plan(NamedTuple):
    app: str
    procfile: str
    root: str
    shell: str
    log: str | None
    processes: tuple[Process, ...]  # Procfile order; types with no instances left out
    # The release phase (a `release` type): one instance that runs to completion before the
    # others start; not among `processes`, which are kept running.
    release: Process | None = None
    root_given: bool = False  # a root was set (not the Procfile's directory, the default)
    # the format's own settings, as its read_settings hook read them (Formation's)
    format_settings: object = None

    @property
    def instances(self) -> tuple[Instance, ...]:
        return tuple(i for p in self.processes for i in p.instances)

    @property
    def env_files(self) -> dict[str, Process]:
        """Each env file with one process that uses it (all its users share its content)."""
        every = (*self.processes, *([self.release] if self.release else []))
        return {p.env_file: p for p in reversed(every) if p.env_file is not None}


def build_plan(formation: Formation) -> Plan:
    """Instances, ports and PS by design.md's rules; two instances on one port is an error."""
    processes = []
    owners: dict[int, Instance] = {}  # by port
    for ptype in formation.types:
        instances = []
        for number in range(1, ptype.count + 1):
            port = instance_port(ptype.port, number)
            instance = Instance(ptype.name, number, port, formation.app)
            if port > 65535:
                raise ExportError(f"{instance.ps} would get port {port}, above 65535")
            if port in owners:
                raise ExportError(
                    f"{owners[port].ps} and {instance.ps} would both get port "
                    f"{port}: set a different [process.{ptype.name}] port"
                )
            owners[port] = instance
            instances.append(instance)
        if instances:
            processes.append(Process(ptype, tuple(instances), formation.app))
    if formation.env_mode == "file":
        processes = _route_secrets(formation.app, processes)
    release = next((p for p in processes if p.name == RELEASE), None)
    processes = [p for p in processes if p.name != RELEASE]
    return Plan(
        app=formation.app,
        procfile=formation.procfile,
        root=formation.root,
        shell=formation.shell,
        log=formation.log,
        processes=tuple(processes),
        release=release,
        root_given=formation.root_given,
        format_settings=formation.format_settings,
    )


def _route_secrets(app: str, processes: list[Process]) -> list[Process]:
    """--env-mode file: the .env values go to APP.env when every type shares the same ones
    and the same account, else to one APP-T.env per type. An env file is read after (and
    overrides) the inline environment, so a type whose [process.T].env shadows a .env value
    cannot share a file with types that do not."""
    keys = {(p.secret_env, p.type.user, p.type.group) for p in processes if p.secret_env}
    routed = []
    for process in processes:
        if not process.secret_env:
            name = None
        elif len(keys) == 1:
            name = f"{app}.env"
        else:
            name = f"{process.full_name}.env"
        routed.append(process._replace(env_file=name))
    return routed
