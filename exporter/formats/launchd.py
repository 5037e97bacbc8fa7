"""launchd (macOS): one property list per instance, APP-T-N.plist, written with plistlib.

No templates: the XML is plistlib's, so escaping is never a template's job. What XML 1.0
cannot carry, or plistlib's reader would give back changed, is refused by `launchd_string`.
"""

from __future__ import annotations

import functools
import os
import re

from exporter.errors import ExportError
from exporter.formats import File, FileChange, Format, RenderContext, Rendering
from exporter.formats.shell import login_flag, sh_env_files, shell_quote
from exporter.plan import Instance, Plan, Process
from exporter.rendering import comment_text, generated_by, with_generated_by

# Characters XML 1.0 has (its Char production) minus CR: a parser turns CR and CRLF into LF,
# and plistlib's writer does the same before that.
_NOT_XML = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def launchd_string(value: str, what: str) -> str:
    """`value`, when a property list carries it exactly; an error naming `what` otherwise
    (the caller decides whether `what` shows the value: never a secret's)."""
    bad = _NOT_XML.search(value)
    if bad:
        raise ExportError(
            f"launchd cannot carry {what}: a property list is XML 1.0, which has no "
            f"character {bad.group()!r} (no carriage return, no control character but tab and "
            "line feed, no surrogate, no U+FFFE or U+FFFF)"
        )
    return value


# launchd stops a job with SIGTERM to its main process, and knows no other stop signal. The
# main process is this shell ($1 = the command, $2 = the env file, if any). It runs the command
# in a background subshell that restores INT and QUIT where the shell can (a shell starts
# background commands with them ignored) and traps the stop signal itself, so that it waits
# for the running command to end and then exits without starting the next one (as the shell
# of `sh -c 'a; b'` would end on the signal); the subshell runs the command as `sh -c` would
# (`set --` then the command, by eval). On TERM the main shell sends the stop signal to its
# process group (launchd runs each job in a session of its own, setsid(2) in launchd.plist(5);
# -$$ names only a group that $$ leads), then waits for the command to end, so that ExitTimeOut
# runs from the stop.
_FORWARD = (
    "trap 'stopping=1; {ignore}kill -s {signal} -- -$$' TERM; (trap - INT QUIT; {catch}"
    'if [ $# -gt 1 ]; then set -a; . "$2"; set +a; fi; eval "set --\n$1") & '
    'wait $!; status=$?; while [ "$stopping" ]; do stopping=; wait $!; status=$?; done; '
    "exit $status"
)


@functools.cache
def forward_stop_signal(signal: str) -> str:
    """The shell script that turns launchd's SIGTERM into `signal` for the command."""
    if signal == "KILL":  # can be neither ignored nor caught: everything ends at once
        return _FORWARD.format(signal=signal, ignore="", catch="")
    # the subshell ends once its running command has: the rest of `a; b` must not start
    return _FORWARD.format(
        signal=signal, ignore=f'trap "" {signal}; ', catch=f"trap exit {signal}; "
    )


def program_arguments(plan: Plan, process: Process, env_file: str | None) -> list[str]:
    """[SHELL, (-l,) -c, FORWARD, SHELL, COMMAND (never split), ENV_FILE if any]: the forwarder for
    every stop signal, TERM too, since a shell that does not exec the command's last process
    (dash never does) would take launchd's SIGTERM itself and leave the app running."""
    forward = forward_stop_signal(process.type.stop_signal)
    login = login_flag(process.type.login)  # the profile's PATH reaches the command's subshell
    return [
        plan.shell,
        *login,
        "-c",
        forward,
        plan.shell,
        process.type.command,
        *filter(None, [env_file]),
    ]


def xml_comment_text(value: str) -> str:
    """Text for an XML comment: printable, and never `--` (which would end it)."""
    return comment_text(value).replace("--", "-\\x2d")


def launchd_plist(job: dict[str, object], procfile: str) -> str:
    """The property list with the generated-by comment on its second line, after the XML
    declaration (a comment may not come before it, and plistlib writes none)."""
    import plistlib

    text = plistlib.dumps(job, sort_keys=True).decode("utf-8")
    header = generated_by(procfile, start="<!--", end="-->", escape=xml_comment_text)
    return with_generated_by(text, header)


def launchd_job(
    plan: Plan, process: Process, instance: Instance, env_file: str | None, release: bool = False
) -> dict:
    """One instance's job, every string checked. The release phase runs once when loaded
    (KeepAlive false): launchd has no way to hold the other jobs back until it succeeded."""
    ptype = process.type
    label = instance.full_name  # APP-T-N, APP-release
    env = {
        var.name: (var.value, f"the value of {var.name} ({var.origin})")
        for var in process.inline_env
    }
    env |= {var.name: (var.value, f"the value of {var.name}") for var in instance.env}
    job: dict[str, object] = {
        "Label": label,
        "ProgramArguments": [
            launchd_string(arg, f"the command of {ptype.name} {ptype.command!r}")
            for arg in program_arguments(plan, process, env_file)
        ],
        "EnvironmentVariables": {
            name: launchd_string(value, what) for name, (value, what) in env.items()
        },
        "WorkingDirectory": launchd_string(plan.root, f"the root directory {plan.root!r}"),
        "KeepAlive": not release,
        "RunAtLoad": True,
        "ExitTimeOut": ptype.timeout,
        # KeepAlive restarts an exited job at most once per ThrottleInterval seconds, forever
        "ThrottleInterval": ptype.restart_delay,
    }
    if ptype.user_setting is not None:
        job["UserName"] = ptype.user
    if ptype.group is not None:
        job["GroupName"] = ptype.group
    if plan.log is not None:
        log = launchd_string(f"{plan.log}/{label}.log", f"the log directory {plan.log!r}")
        job["StandardOutPath"] = job["StandardErrorPath"] = log
    return job


def render_launchd(plan: Plan, context: RenderContext) -> Rendering:
    files: Rendering = {}
    release = (plan.release,) if plan.release is not None else ()
    for process in (*release, *plan.processes):
        env_file = context.env_file_path(process)
        if env_file is not None:
            launchd_string(env_file, f"the env file path {env_file!r}")
        for instance in process.instances:
            job = launchd_job(plan, process, instance, env_file, process in release)
            label = instance.full_name
            files[f"{label}.plist"] = File(launchd_plist(job, plan.procfile), unit=label)
    for name, file in sh_env_files(plan).items():  # sourced by the job's shell, as its user
        ptype = plan.env_files[name].type
        # without UserName a LaunchDaemon runs as root: the default user may not exist
        owner = (ptype.user, ptype.group) if ptype.user_setting is not None else None
        files[name] = file._replace(owner=owner)
    return files


def launchd_domain(location: str) -> str:
    """A LaunchAgent is loaded into the user's GUI session, anything else as a daemon."""
    if os.path.basename(location) == "LaunchAgents":
        return "gui/$(id -u)"
    return "system"


def launchd_unit_of(path: str) -> str | None:
    """The job a file defines: LABEL.plist (None: an env file)."""
    return path.removesuffix(".plist") if path.endswith(".plist") else None


def launchd_next_steps(app: str, changes: list[FileChange], location: str) -> list[str]:
    """`bootout` each job whose file was removed or changed (launchd does not reread a loaded
    job's file), then `bootstrap` every new or changed file by its absolute path."""
    jobs = sorted(
        (c for c in changes if c.unit is not None and c.action != "unchanged"),
        key=lambda c: c.path,
    )
    domain = launchd_domain(location)
    steps = [
        f"launchctl bootout {domain}/{shell_quote(c.unit)}"
        for c in jobs
        if c.action != "created" and c.unit is not None
    ]
    steps += [
        f"launchctl bootstrap {domain} {shell_quote(os.path.join(location, c.path))}"
        for c in jobs
        if c.action != "removed"
    ]
    return steps


FORMAT = Format(
    filters={},
    render=render_launchd,
    next_steps=launchd_next_steps,
    uninstall_steps=launchd_next_steps,  # each removed job is booted out
    unit_of=launchd_unit_of,
    template_folder=None,
    runs_as_invoker=True,
    writes_default_user=False,
)
