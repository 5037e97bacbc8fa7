"""formation.toml: the pydantic model and its loader."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

# No pydantic plugins are used here; looking them up scans every installed distribution.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from exporter.errors import ExportError
from exporter.formation import MAX_COUNT, MAX_TIMEOUT
from exporter.textfile import read_text
from exporter.toml_lines import key_line

STOP_SIGNALS = ("TERM", "INT", "QUIT", "HUP", "KILL", "USR1", "USR2", "WINCH")


def _env_value(value: object) -> object:
    """TOML integers are written as the user typed them; other non-strings are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _no_nul(value)


def _no_nul(value: object) -> object:
    """A NUL ends a C string: no environment, argv or path can carry one (TOML's "\u0000")."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("holds a NUL character, which no process can be given")
    return value


def _stop_signal(value: object) -> object:
    if isinstance(value, str):
        name = value.upper().removeprefix("SIG")
        if name not in STOP_SIGNALS:
            raise ValueError(f"unknown stop signal {value!r}; use one of {', '.join(STOP_SIGNALS)}")
        return name
    return value


def _non_empty(value: object) -> object:
    if value == "":
        raise ValueError("must not be empty")
    return _no_nul(value)


EnvValue = Annotated[str, BeforeValidator(_env_value)]
Text = Annotated[str, BeforeValidator(_non_empty)]  # a name or path: "" is an error
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Port = Annotated[int, Field(ge=1, le=65535)]
Timeout = Annotated[int, Field(ge=1, le=MAX_TIMEOUT)]
# Seconds between a crash and the restart: at least 1, so a crash loop has a bounded rate.
RestartDelay = Annotated[int, Field(ge=1, le=3600)]
StopSignal = Annotated[str, BeforeValidator(_stop_signal)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class _Strict(BaseModel):
    # defer_build: the schema is built on the first validation, so that an export without a
    # formation file never pays for it.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class ProcessSettings(_Strict):
    """[process.T]: how one process type runs; each key beats the app-wide one."""

    user: Text | None = None
    group: Text | None = None
    port: Port | None = None
    timeout: Timeout | None = None
    stop_signal: StopSignal | None = None
    restart_delay: RestartDelay | None = None
    env: dict[EnvName, EnvValue] = {}
    service: bool | None = None  # kubernetes: give the type a Service (default: web only)
    login: bool | None = None  # run through a login shell (SHELL -l -c)


class KubernetesSettings(_Strict):
    """[kubernetes]: only the kubernetes format reads these."""

    image: Text | None = None
    namespace: Text | None = None
    version: Annotated[str, Field(pattern=r"^1\.[0-9]+(\.[0-9]+)?$")] | None = None


class FormationFile(_Strict):
    """The whole formation.toml; every key is optional."""

    app: Text | None = None
    procfile: Text | None = None
    root: Text | None = None
    user: Text | None = None
    group: Text | None = None
    port: Port | None = None
    log: Text | None = None
    timeout: Timeout | None = None
    stop_signal: StopSignal | None = None
    restart_delay: RestartDelay | None = None
    shell: Text | None = None
    login: bool | None = None
    env_mode: Literal["inline", "file"] | None = None
    env_files: list[Text] | None = None
    env: dict[EnvName, EnvValue] = {}
    formation: dict[str, Count] = {}
    process: dict[str, ProcessSettings] = {}
    kubernetes: KubernetesSettings | None = None


def load_formation_file(path: Path, label: str) -> tuple[dict[str, Any], str]:
    """The validated formation file as plain data (every key present, None when unset), and
    its text; errors name the file, the line and the key."""
    text = read_text(path, label)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ExportError("arrays or tables nested too deeply", label) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r" \(at line (\d+), column \d+\)$", message)
        line = int(where.group(1)) if where else None
        raise ExportError(message[: where.start()] if where else message, label, line) from None
    try:
        return FormationFile.model_validate(data).model_dump(), text
    except RecursionError:
        raise ExportError("arrays or tables nested too deeply", label) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if part != "[key]")
        key = ".".join(str(part) for part in loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif "[key]" in error["loc"]:
            message = (
                "invalid variable name: use letters, digits and '_', not starting with a digit"
            )
        raise ExportError(f"{key}: {message}", label, key_line(text, loc)) from None
