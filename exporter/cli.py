"""The command line: parse options, call the library, turn errors into one line and exit 2.

No `from __future__ import annotations` here: typer would have to eval every annotation.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from exporter import __version__
from exporter.errors import ExportError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _show_version(value: bool) -> None:
    if value:
        print(f"procexport {__version__}")
        raise typer.Exit(0)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def export(
    format_name: Annotated[
        str, typer.Argument(metavar="FORMAT", help="systemd, upstart or supervisord.")
    ],
    location: Annotated[
        str | None,
        typer.Argument(metavar="[LOCATION]", help="Directory to write into; stdout if omitted."),
    ] = None,
    procfile: Annotated[str | None, typer.Option("-f", "--procfile", metavar="PATH")] = None,
    formation_file: Annotated[
        str | None, typer.Option("-F", "--formation-file", metavar="PATH")
    ] = None,
    formation: Annotated[
        list[str] | None,
        typer.Option("-m", "--formation", metavar="SPEC", help="web=3,worker=2; repeatable."),
    ] = None,
    app_name: Annotated[str | None, typer.Option("-a", "--app", metavar="NAME")] = None,
    user: Annotated[str | None, typer.Option("-u", "--user", metavar="USER")] = None,
    root: Annotated[str | None, typer.Option("-d", "--root", metavar="DIR")] = None,
    log: Annotated[str | None, typer.Option("-l", "--log", metavar="DIR")] = None,
    port: Annotated[int | None, typer.Option("-p", "--port", metavar="N")] = None,
    env: Annotated[
        list[str] | None, typer.Option("-e", "--env", metavar="FILE", help="Repeatable.")
    ] = None,
    template: Annotated[str | None, typer.Option("-t", "--template", metavar="DIR")] = None,
    timeout: Annotated[int | None, typer.Option("--timeout", metavar="SECONDS")] = None,
    image: Annotated[
        str | None, typer.Option("--image", metavar="IMAGE", help="kubernetes: the image.")
    ] = None,
    env_mode: Annotated[
        str | None, typer.Option("--env-mode", metavar="MODE", help="inline or file.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    force: Annotated[bool, typer.Option("--force")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    color: Annotated[str, typer.Option("--color", metavar="WHEN")] = "auto",
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = None,
) -> int:
    """Export a Procfile and its formation to an init system's configuration."""
    from exporter.export import run_export
    from exporter.formation import MAX_TIMEOUT, Options

    if color not in ("auto", "always", "never"):
        raise ExportError(f"--color {color!r}: use auto, always or never")
    if timeout is not None and timeout < 1:
        raise ExportError(f"--timeout {timeout}: must be a whole number of seconds >= 1")
    if timeout is not None and timeout > MAX_TIMEOUT:
        raise ExportError(f"--timeout {timeout}: at most {MAX_TIMEOUT} seconds")
    _refuse_empty(
        ("LOCATION", location),
        ("--procfile", procfile),
        ("--formation-file", formation_file),
        ("--app", app_name),
        ("--user", user),
        ("--root", root),
        ("--log", log),
        ("--template", template),
        ("--env-mode", env_mode),
        ("--image", image),
        *(("--env", name) for name in env or ()),
    )
    options = Options(
        procfile=procfile,
        formation_file=formation_file,
        formation=tuple(formation or ()),
        app=app_name,
        user=user,
        root=root,
        log=log,
        port=port,
        env_files=tuple(env or ()),
        timeout=timeout,
        env_mode=env_mode,
        image=image,
    )
    return run_export(
        format_name,
        Path(location) if location is not None else None,
        options,
        template_dir=Path(template) if template is not None else None,
        dry_run=dry_run,
        force=force,
        quiet=quiet,
        color=color == "always" or (color == "auto" and sys.stdout.isatty()),
    )


def _refuse_empty(*given: tuple[str, str | None]) -> None:
    """An option given as '' (an unset variable in a script, say) is an error, not a default."""
    for name, value in given:
        if value == "":
            raise ExportError(f"{name} is empty: give a value, or leave it out for the default")


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="procexport", standalone_mode=False)
    except typer.Exit as exc:
        status = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        status = 130
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        print(f"procexport: error: {exc.format_message()}", file=sys.stderr)
        status = 2
    except ExportError as exc:
        print(f"procexport: error: {exc}", file=sys.stderr)
        status = 2
    sys.exit(status or 0)
