"""Expand a Formation into one Instance per running process: pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.errors import ExportError
from exporter.formation import EnvVar, Formation, ProcessType


@dataclass(frozen=True)
class Instance:
    type: str
    number: int  # 1-based
    port: int

    @property
    def ps(self) -> str:
        return f"{self.type}.{self.number}"

    @property
    def env(self) -> tuple[EnvVar, ...]:
        """What differs per instance; it overrides the type's environment."""
        return (EnvVar("PORT", str(self.port), "instance"), EnvVar("PS", self.ps, "instance"))


@dataclass(frozen=True)
class Process:
    """A process type that runs, with its instances."""

    type: ProcessType
    instances: tuple[Instance, ...]

    @property
    def name(self) -> str:
        return self.type.name


@dataclass(frozen=True)
class Plan:
    app: str
    procfile: str
    root: str
    shell: str
    log: str | None
    env_mode: str
    processes: tuple[Process, ...]  # Procfile order; types with no instances left out

    @property
    def instances(self) -> tuple[Instance, ...]:
        return tuple(i for p in self.processes for i in p.instances)


def build_plan(formation: Formation) -> Plan:
    """Instances, ports and PS by design.md's rules; two instances on one port is an error."""
    processes = []
    owners: dict[int, str] = {}
    for ptype in formation.types:
        instances = []
        for number in range(1, ptype.count + 1):
            instance = Instance(ptype.name, number, ptype.port + number - 1)
            if instance.port > 65535:
                raise ExportError(f"{instance.ps} would get port {instance.port}, above 65535")
            if instance.port in owners:
                raise ExportError(
                    f"{owners[instance.port]} and {instance.ps} would both get port "
                    f"{instance.port}: set a different [process.{ptype.name}] port"
                )
            owners[instance.port] = instance.ps
            instances.append(instance)
        if instances:
            processes.append(Process(ptype, tuple(instances)))
    return Plan(
        app=formation.app,
        procfile=formation.procfile,
        root=formation.root,
        shell=formation.shell,
        log=formation.log,
        env_mode=formation.env_mode,
        processes=tuple(processes),
    )
