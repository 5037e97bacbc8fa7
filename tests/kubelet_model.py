"""How the kubelet turns a container spec into an argv and an environment.

Ports of Kubernetes' own rules: `$(VAR)` expansion (third_party/forked/golang/expansion:
`$$` is a literal `$`, an unknown `$(VAR)` stays as written), and the environment order
(envFrom sources in order, a later one winning, then `env`, each value expanded against
what is defined before it).
"""

from __future__ import annotations

import base64
from typing import Any


def expand(text: str, env: dict[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
            elif following == "(":
                close = text.find(")", i + 2)
                if close == -1:
                    out.append("$(")
                    i += 2
                else:
                    name = text[i + 2 : close]
                    out.append(env.get(name, f"$({name})"))
                    i = close + 1
            else:
                out.append("$" + following)
                i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def container_environment(
    container: dict[str, Any], objects: dict[tuple[str, str], dict[str, Any]], pod_name: str
) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            secret = objects[("Secret", source["secretRef"]["name"])]
            env |= {k: base64.b64decode(v).decode("utf-8") for k, v in secret["data"].items()}
        else:
            env |= dict(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(item["value"], env)
        else:
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            env[item["name"]] = pod_name
    return env


def container_argv(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    return [expand(word, env) for word in container["command"] + container.get("args", [])]
