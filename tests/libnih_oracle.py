"""libnih's own nih_config_token, compiled from its source, to check tests/upstart_model.py.

Upstart cannot be installed on current Debian, and the model is a port of C. When the libnih
1.0.3 source is at hand (LIBNIH_CONFIG_C=path/to/nih/config.c, e.g. from
`git -C libnih show 1.0.3:nih/config.c`) and a C compiler is installed, the tests compile the
real function out of that file (nothing of it is copied into this repository) and compare the
model with it on every input; otherwise they are skipped.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

STUBS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define TRUE 1
#define FALSE 0
#define nih_assert(e) do { if (!(e)) abort (); } while (0)
#define _(s) (s)
#define NIH_CONFIG_WS " \t\r"
#define NIH_CONFIG_CNLWS " \t\r#\n"
#define NIH_CONFIG_TRAILING_SLASH 1
#define NIH_CONFIG_TRAILING_SLASH_STR "trailing slash"
#define NIH_CONFIG_UNTERMINATED_QUOTE 2
#define NIH_CONFIG_UNTERMINATED_QUOTE_STR "unterminated quote"
static const char *raised;
#define nih_error_raise(n, s) (raised = (s))
"""

# As nih_config_next_token: measure from the start, then copy the token's text dequoted.
MAIN = r"""
int main (void) {
	static char file[65536], dest[65536];
	size_t len = fread (file, 1, sizeof file, stdin), pos = 0, toklen = 0;
	if (nih_config_token (file, len, &pos, NULL, NULL, NIH_CONFIG_CNLWS, 1, &toklen) < 0) {
		printf ("error %s\n", raised);
		return 0;
	}
	nih_config_token (file, pos, NULL, NULL, dest, NIH_CONFIG_CNLWS, 1, NULL);
	printf ("ok %zu %zu\n", pos, toklen);
	fwrite (dest, 1, strlen (dest), stdout);
	return 0;
}
"""


def source() -> Path | None:
    path = os.environ.get("LIBNIH_CONFIG_C")
    return Path(path) if path and Path(path).is_file() else None


def available() -> bool:
    return source() is not None and shutil.which("cc") is not None


@functools.cache
def _binary() -> Path:
    path = source()
    assert path is not None
    lines = path.read_text().splitlines(keepends=True)
    start = lines.index("nih_config_token (const char *file,\n")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("}"))
    function = "int\n" + "".join(lines[start : end + 1])
    build = Path(tempfile.mkdtemp(prefix="libnih-"))
    atexit.register(shutil.rmtree, build, True)
    (build / "token.c").write_text(STUBS + function + MAIN)
    subprocess.run(
        ["cc", "-O0", "-w", "-o", str(build / "token"), str(build / "token.c")], check=True
    )
    return build / "token"


def config_token(text: str) -> tuple[str, int, int] | str:
    """The real nih_config_token over `text` (UTF-8) with NIH_CONFIG_CNLWS: (token, end,
    length), end and length counted in bytes as C counts them, or the error it raised."""
    result = subprocess.run(
        [str(_binary())], input=text.encode("utf-8"), capture_output=True, check=True, timeout=10
    )
    status, _, token = result.stdout.partition(b"\n")
    words = status.decode().split(" ", 1)
    if words[0] == "error":
        return words[1]
    pos, toklen = (int(w) for w in words[1].split())
    return token.decode("utf-8"), pos, toklen
