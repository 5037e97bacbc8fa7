"""The command line: parse options, call the library, turn errors into one line and exit 2.

No `from __future__ import annotations` here: typer would have to eval every annotation.
"""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from exporter import __version__
from exporter.errors import ExportError
from exporter.formats import FORMAT_NAMES

EXAMPLES = """Examples:
  procexport systemd      (print the units for ./Procfile)
  procexport systemd /etc/systemd/system -m web=2,worker=1 -u shop
  procexport supervisord /etc/supervisor/conf.d --dry-run
  procexport check        (lint ./Procfile, .env and formation.toml)"""

app = typer.Typer(add_completion=True, pretty_exceptions_enable=False)


def _show_version(value: bool) -> None:
    if value:
        print(f"procexport {__version__}")
        raise typer.Exit(0)


def _complete_format(incomplete: str) -> list[str]:
    return [name for name in (*FORMAT_NAMES, "check") if name.startswith(incomplete)]


def _complete_formation(incomplete: str) -> list[str]:
    """`TYPE=` for each process type of ./Procfile (after the entries already typed)."""
    from exporter.procfile import parse_procfile

    done, _, current = incomplete.rpartition(",")
    try:
        text = Path("Procfile").read_text(encoding="utf-8")
        names = [entry.name for entry in parse_procfile(text, "Procfile")]
    except (OSError, UnicodeDecodeError, ExportError):
        return []
    prefix = done + "," if done else ""
    return [f"{prefix}{name}=" for name in (*names, "all") if name.startswith(current)]


# Options that export and check share, defined once.
ProcfileOption = Annotated[
    str | None,
    typer.Option("-f", "--procfile", metavar="PATH", help="The Procfile (./Procfile)."),
]
FormationFileOption = Annotated[
    str | None,
    typer.Option(
        "-F", "--formation-file", metavar="PATH", help="The formation TOML (./formation.toml)."
    ),
]
FormationOption = Annotated[
    list[str] | None,
    typer.Option(
        "-m",
        "--formation",
        "-c",
        metavar="SPEC",
        help="Instances per type: web=3,worker=2 or all=2; repeatable.",
        autocompletion=_complete_formation,
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "-e", "--env", metavar="FILE", help=".env file; repeatable or a,b; later ones win."
    ),
]


@app.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXAMPLES,
)
def export(
    format_name: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help=f"One of {', '.join(FORMAT_NAMES)}; or `check` to lint the inputs.",
            autocompletion=_complete_format,
        ),
    ],
    location: Annotated[
        str | None,
        typer.Argument(metavar="[LOCATION]", help="Directory to write into; stdout if omitted."),
    ] = None,
    procfile: ProcfileOption = None,
    formation_file: FormationFileOption = None,
    formation: FormationOption = None,
    app_name: Annotated[
        str | None,
        typer.Option("-a", "--app", metavar="NAME", help="App name, prefix of every file."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("-u", "--user", metavar="USER", help="User the processes run as."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("-g", "--group", metavar="GROUP", help="Group the processes run as."),
    ] = None,
    root: Annotated[
        str | None,
        typer.Option("-d", "--root", metavar="DIR", help="Working directory of the processes."),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option("-l", "--log", metavar="DIR", help="Log directory (created when writing)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("-p", "--port", metavar="N", help="Base port (5000).")
    ] = None,
    env: EnvOption = None,
    shell: Annotated[
        str | None,
        typer.Option("-s", "--shell", metavar="PATH", help="Shell that runs each command."),
    ] = None,
    login: Annotated[
        bool | None,
        typer.Option("--login/--no-login", help="Run commands through a login shell (-l)."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("-t", "--template", metavar="DIR", help="Template overrides, file by file."),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option("--timeout", metavar="SECONDS", help="From the stop signal to SIGKILL."),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", metavar="IMAGE", help="kubernetes: the image.")
    ] = None,
    env_mode: Annotated[
        str | None,
        typer.Option("--env-mode", metavar="MODE", help="inline, or file: .env values in 0600."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print a diff of what would change; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite or remove edited or foreign files.")
    ] = False,
    destdir: Annotated[
        str | None,
        typer.Option(
            "--destdir",
            metavar="DIR",
            help="Packaging: write under DIR + LOCATION; files name LOCATION as installed.",
        ),
    ] = None,
    manifest: Annotated[
        str | None,
        typer.Option("--manifest", metavar="PATH", help="Keep the manifest at PATH."),
    ] = None,
    uninstall: Annotated[
        bool,
        typer.Option("--uninstall", help="Remove every file the manifest lists, and it."),
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary after a write.")] = False,
    color: Annotated[
        str,
        typer.Option(
            "--color",
            metavar="WHEN",
            help="Colour the diff: auto (terminal, no NO_COLOR), always, never.",
        ),
    ] = "auto",
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version."),
    ] = None,
) -> int:
    """Export a Procfile and its formation to an init system's configuration."""
    from exporter.export import run_export
    from exporter.export_options import check_export_options
    from exporter.formation import Options

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
        group=group,
        shell=shell,
        login=login,
    )
    check_export_options(
        format_name,
        location,
        options,
        template=template,
        dry_run=dry_run,
        destdir=destdir,
        manifest=manifest,
        uninstall=uninstall,
        color=color,
    )
    result = run_export(
        format_name,
        Path(location) if location is not None else None,
        options,
        template_dir=Path(template) if template is not None else None,
        dry_run=dry_run,
        force=force,
        destdir=destdir,
        manifest=manifest,
        quiet=quiet,
        color=use_color(color, sys.stdout),
        uninstall=uninstall,
    )
    sys.stdout.write(result.output)
    sys.stderr.write(result.report)
    return result.status


def use_color(when: str, stream: object) -> bool:
    """--color (checked already): `always` and `never` as said; `auto` on a terminal unless
    NO_COLOR is set (non-empty, https://no-color.org)."""
    if when == "auto":
        return stream.isatty() and not os.environ.get("NO_COLOR")
    return when == "always"


check_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@check_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def check(
    procfile: ProcfileOption = None,
    formation_file: FormationFileOption = None,
    formation: FormationOption = None,
    env: EnvOption = None,
    output: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="text (one line each) or json.")
    ] = "text",
) -> int:
    """Validate the Procfile, .env files and formation.toml, and lint the commands for what
    breaks the process model; write nothing. Exit 0 clean, 1 warnings, 2 errors."""
    from exporter.check import check_inputs, exit_status, findings_json, findings_text
    from exporter.formation import Options

    if output not in ("text", "json"):
        raise ExportError(f"--format {output!r}: use text or json")
    options = Options(
        procfile=procfile,
        formation_file=formation_file,
        formation=tuple(formation or ()),
        env_files=tuple(env or ()),
    )
    findings = check_inputs(options, Path.cwd())
    sys.stdout.write(findings_json(findings) if output == "json" else findings_text(findings))
    return exit_status(findings)


COMPLETE_VAR = "_PROCEXPORT_COMPLETE"


def _completing_check() -> bool:
    """Shell completion of `procexport check ...`: complete check's options, as if the words
    started after `check` (bash, zsh and fish all pass COMP_WORDS and COMP_CWORD)."""
    if not os.environ.get(COMPLETE_VAR):
        return False
    words = os.environ.get("COMP_WORDS", "").split()
    if words[1:2] != ["check"] or int(os.environ.get("COMP_CWORD") or 0) < 2:
        return False
    os.environ["COMP_WORDS"] = " ".join(words[:1] + words[2:])
    os.environ["COMP_CWORD"] = str(int(os.environ["COMP_CWORD"]) - 1)
    from typer.completion import completion_init

    completion_init()  # the shells typer completes for (check's app adds no options of its own)
    return True


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["check"] or _completing_check():  # its own command, before FORMAT
        command = typer.main.get_command(check_app)
        args, prog_name = args[1:], "procexport check"
    else:
        command = typer.main.get_command(app)
        prog_name = "procexport"
    try:
        status = command.main(
            args=args,
            prog_name=prog_name,
            standalone_mode=False,
            complete_var=COMPLETE_VAR,
        )
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
