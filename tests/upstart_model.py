"""A model of how Upstart 1.x reads a job file: libnih's tokenizer and the init(5) stanzas
procexport writes. Upstart is not installable on current Debian; this is a port of libnih 1.0.3
(the library of every Upstart 1.x), tag 1.0.3 of github.com/keybuk/libnih (commit e4edea56),
nih/config.c and nih/config.h:

- NIH_CONFIG_WS, NIH_CONFIG_CNL, NIH_CONFIG_CNLWS: config.h lines 112, 120, 127.
- `config_token`: nih_config_token, config.c lines 135-276, statement for statement.
- `next_arg`: nih_config_next_arg (lines 392-402) = nih_config_next_token (lines 316-358),
  then nih_config_skip_whitespace (lines 469-501).
- `has_token`, `skip_comment`: nih_config_has_token (lines 77-92), nih_config_skip_comment
  (lines 527-544) with nih_config_next_line (lines 426-444).
- `parse_block`: nih_config_parse_block (lines 744-836) with nih_config_block_end (lines
  927-997): the block ends at the first line `WS? end WS script WS? (#...)?`.

Its rules, including the surprising ones: quotes are removed wherever they appear and adjacent
pieces join; a backslash escapes only another backslash, white space or a line break; before
any other character (`"` and `'` included, inside quotes or not) the backslash is kept and the
character is taken literally, so `"say \\"hi\\""` gives `say \\"hi\\"`; an unquoted `#`
starts a comment; a line break inside quotes collapses with its surrounding white space into one
space. The port keeps one quirk of the C code too: white space followed by a kept backslash is
copied from one character too late (`memcpy (dest + i, file + p - ws - extra, ws)` with `extra`
0), so `"a \\x"` gives `a\\\\x`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WS = " \t\r"
CNL = "#\n"
CNLWS = " \t\r#\n"

# What Upstart puts into every job's environment before the env stanzas (init(5)).
UPSTART_DEFAULT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin",
    "TERM": "linux",
}


class UpstartParseError(Exception):
    pass


def config_token(text: str, pos: int, delim: str) -> tuple[str, int, int]:
    """nih_config_token with dequote TRUE and a destination: the token, the position of its
    delimiter, and the token's length as libnih counts it (0 means 'no token')."""
    dest: list[str] = []
    p, ws, nlws, qc = pos, 0, 0, 0
    slash, nl = False, False
    quote = ""
    while p < len(text):
        char = text[p]
        extra, is_quote = 0, False
        if slash:
            slash = False
            if char == "\n":  # escaped newline
                nlws += 1
                nl = True
                p += 1
                continue
            elif char == "\\" or char in WS:
                extra += 1
                qc += 1  # dequote
            else:  # any other character: the backslash stays, the character is literal
                dest.append("\\")
        elif char == "\\":
            slash = True
            p += 1
            continue
        elif quote:
            if char == quote:
                quote = ""
                is_quote = True
            elif char == "\n":
                nl = True
                p += 1
                continue
            elif char in WS:
                ws += 1
                p += 1
                continue
        elif char in "\"'":
            quote = char
            is_quote = True
        elif char in delim:
            break
        elif char in WS:
            ws += 1
            p += 1
            continue
        if nl:  # a line break is one space; the white space around it is lost
            nlws += ws
            dest.append(" ")
        elif ws:  # white space so far is copied as it is (from file + p - ws - extra)
            dest.append(text[p - ws - extra : p - extra])
        if not is_quote:
            dest.append(char)
        else:
            qc += 1
        ws, nl = 0, False
        p += 1
    if slash:
        raise UpstartParseError("trailing slash")
    if quote:
        raise UpstartParseError("unterminated quote")
    return "".join(dest), p, p - pos - ws - nlws - qc


def next_arg(text: str, pos: int) -> tuple[str, int]:
    """nih_config_next_arg: one dequoted argument, then the white space after it."""
    arg, p, length = config_token(text, pos, CNLWS)
    if length <= 0:
        raise UpstartParseError(f"expected token at {pos}")
    while p < len(text):
        if text[p] == "\\" and p + 1 < len(text) and text[p + 1] == "\n":
            p += 2
            continue
        if text[p] not in WS:
            break
        p += 1
    return arg, p


def has_token(text: str, pos: int) -> bool:
    return pos < len(text) and text[pos] not in CNL


def skip_comment(text: str, pos: int) -> int:
    if has_token(text, pos):
        raise UpstartParseError(f"unexpected token at {pos}: {text[pos : pos + 20]!r}")
    end = text.find("\n", pos)
    return len(text) if end == -1 else end + 1


def parse_args(text: str, pos: int) -> tuple[list[str], int]:
    args = []
    while has_token(text, pos):
        arg, pos = next_arg(text, pos)
        args.append(arg)
    return args, skip_comment(text, pos)


_BLOCK_END = re.compile(r"[ \t\r]*end[ \t\r]+script[ \t\r]*(?:#[^\n]*)?(?:\n|$)")


def parse_block(text: str, pos: int) -> tuple[str, int]:
    """nih_config_parse_block: lines up to `end script`, common leading white space removed."""
    lines: list[str] = []
    while not _BLOCK_END.match(text, pos):
        end = text.find("\n", pos)
        if end == -1:
            raise UpstartParseError("unterminated script block")
        lines.append(text[pos : end + 1])
        pos = end + 1
    block_end = _BLOCK_END.match(text, pos)
    assert block_end is not None
    indent = len(lines[0]) - len(lines[0].lstrip(WS)) if lines else 0
    for line in lines[1:]:
        common = 0
        while common < indent and common < len(line) and line[common] == lines[0][common]:
            common += 1
        indent = min(indent, common)
    return "".join(line[indent:] for line in lines), block_end.end()


@dataclass
class Job:
    name: str
    description: str | None = None
    start_on: list[str] = field(default_factory=list)
    stop_on: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    setuid: str | None = None
    setgid: str | None = None
    chdir: str | None = None
    kill_signal: str = "TERM"
    kill_timeout: int = 5
    respawn: bool = False
    respawn_limit: tuple[int, int] | str | None = None  # (count, seconds) or "unlimited"
    task: bool = False
    console: str | None = None
    script: str | None = None
    exec: str | None = None
    post_stop: str | None = None  # a post-stop script block


def parse_job(name: str, text: str) -> Job:
    job = Job(name)
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in WS:
            pos += 1
        if not has_token(text, pos):
            pos = skip_comment(text, pos)
            continue
        stanza, pos = next_arg(text, pos)
        if stanza in ("start", "stop"):
            args, pos = parse_args(text, pos)
            if not args or args[0] != "on":
                raise UpstartParseError(f"{stanza} without 'on'")
            setattr(job, f"{stanza}_on", args[1:])
        elif stanza in ("description", "setuid", "setgid", "chdir", "console"):
            value, pos = next_arg(text, pos)
            pos = skip_comment(text, pos)
            setattr(job, stanza, value)
        elif stanza == "env":
            assignment, pos = next_arg(text, pos)
            pos = skip_comment(text, pos)
            key, equals, value = assignment.partition("=")
            if not equals:
                raise UpstartParseError(f"env without '=': {assignment!r}")
            job.env[key] = value
        elif stanza == "respawn":
            args, pos = parse_args(text, pos)
            if not args:
                job.respawn = True
            elif args[0] == "limit" and len(args) == 3:
                job.respawn_limit = (int(args[1]), int(args[2]))
            elif args == ["limit", "unlimited"]:
                job.respawn_limit = "unlimited"
            else:
                raise UpstartParseError(f"bad respawn: {args}")
        elif stanza == "kill":
            args, pos = parse_args(text, pos)
            if len(args) != 2 or args[0] not in ("signal", "timeout"):
                raise UpstartParseError(f"bad kill: {args}")
            if args[0] == "signal":
                job.kill_signal = args[1]
            else:
                job.kill_timeout = int(args[1])
        elif stanza == "script":
            pos = skip_comment(text, pos)
            job.script, pos = parse_block(text, pos)
        elif stanza == "task":
            pos = skip_comment(text, pos)
            job.task = True
        elif stanza == "post-stop":
            kind, pos = next_arg(text, pos)
            if kind != "script":
                raise UpstartParseError(f"post-stop {kind!r}: only a script block is modelled")
            pos = skip_comment(text, pos)
            job.post_stop, pos = parse_block(text, pos)
        elif stanza == "exec":
            end = text.find("\n", pos)
            job.exec = text[pos : len(text) if end == -1 else end]
            pos = len(text) if end == -1 else end + 1
        else:
            raise UpstartParseError(f"unknown stanza {stanza!r}")
    return job


def main_process_argv(job: Job) -> list[str]:
    """How Upstart runs the main process: a script block with `/bin/sh -e`."""
    if job.script is None:
        raise UpstartParseError("job has no script block")
    return ["/bin/sh", "-e", "-c", job.script]


def job_environment(job: Job) -> dict[str, str]:
    return UPSTART_DEFAULT_ENV | job.env | {"UPSTART_JOB": job.name, "UPSTART_INSTANCE": ""}
