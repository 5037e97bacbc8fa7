"""The Jinja environment a format renders with: built-in templates, user overrides, filters."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from exporter.rendering import comment_text, generated_by

if TYPE_CHECKING:
    from exporter.plan import Instance

_PACKAGED = Path(__file__).parent / "templates"
_SOURCE_TREE = Path(__file__).parent.parent / "templates"


def builtin_templates() -> Path:
    """templates/ inside the installed wheel, or at the top of a source checkout."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


def template_environment(
    format_name: str,
    filters: Mapping[str, Callable[..., str]],
    override_dir: Path | None = None,
    bytecode_cache: bool = True,
    variant: str | None = None,
) -> jinja2.Environment:
    """Templates are looked up in OVERRIDE/VARIANT/ (systemd-user, which renders systemd's
    templates), OVERRIDE/FORMAT/, then OVERRIDE/, then the built-in ones.

    Without `bytecode_cache` nothing is written anywhere (a packaging build)."""
    search = [builtin_templates() / format_name]
    if override_dir is not None:
        search[:0] = [override_dir / format_name, override_dir]
        if variant is not None and variant != format_name:
            search.insert(0, override_dir / variant)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(path) for path in search]),
        bytecode_cache=_bytecode_cache() if bytecode_cache else None,
        auto_reload=False,  # one process renders once: no stat() of the template per file
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(filters)
    environment.filters["comment"] = comment_text
    environment.globals["generated_by"] = generated_by  # every template's generated-by line
    return environment


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, reused across runs (a third of a small export's run time), in
    Jinja's private per-user temporary directory; without one, templates are compiled."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


# Two (number, port) pairs no real instance has (ports end at 65535): an instance template is
# rendered once with each, to find where the instance's number and port land in its text.
_SENTINELS = ((7305192846, 6193847205), (8416203957, 5082736194))


def instance_renderer(
    environment: jinja2.Environment,
    name: str,
    instance_values: Callable[[Instance], Mapping[str, object]] | None = None,
    **values: object,
) -> Callable[[Instance], str]:
    """`instance -> template.render(instance=instance, **values, **instance_values(instance))`
    for each instance of `values["process"]`, without a Jinja render per instance (a context
    each: most of the time of a large export) when the template is a built-in one.
    `instance_values` makes what a format derives from the instance itself (runit's log
    directory, named after it): it is called for the sentinels too.

    A built-in instance template uses the instance only through its number and port (and
    what is made of them: PS, PORT, file names), each filter leaving digits as they are. It is
    rendered with two sentinel instances; when both texts split the same way around their
    sentinels, an instance's text is those pieces joined by its own number and port, the same
    characters a render would give. Otherwise (a sentinel's digits also in the fixed text, an
    override from --template, which may branch on the number) every instance is rendered."""
    template = environment.get_template(name)

    def render_each(instance: Instance) -> str:
        if instance_values is None:
            return template.render(instance=instance, **values)
        return template.render(instance=instance, **values, **instance_values(instance))

    process = values["process"]
    # two sample renders pay off from three instances on
    if len(process.instances) < 3 or template.filename is None:  # type: ignore[attr-defined]
        return render_each
    if not _is_builtin(template.filename):
        return render_each
    splits = []
    for number, port in _SENTINELS:
        sample = process.instances[0]._replace(number=number, port=port)  # type: ignore[union-attr]
        pieces = re.split(f"({number}|{port})", render_each(sample))
        markers = tuple("port" if piece == str(port) else "number" for piece in pieces[1::2])
        splits.append((tuple(pieces[0::2]), markers))
    if splits[0] != splits[1]:
        return render_each
    literals, markers = splits[0]
    first, rest = literals[0], tuple(zip(markers, literals[1:], strict=True))

    def substitute(instance: Instance) -> str:
        number, port = str(instance.number), str(instance.port)
        out = [first]
        for marker, literal in rest:
            out.append(port if marker == "port" else number)
            out.append(literal)
        return "".join(out)

    return substitute


@functools.cache
def _is_builtin(filename: str) -> bool:
    return Path(filename).parent.parent == builtin_templates()
