"""Keyed digests: what a world-readable file may say about a secret.

An unsalted SHA-256 of a secret, or of a file that holds one, lets anyone who knows every other
input confirm a guess by hashing it. Where a digest must cover a secret (the manifest's entry
for a file others may not read, the Kubernetes config-hash annotation) it is an HMAC-SHA256
under a private key instead: PROCEXPORT_SECRET_KEY from the environment when it is set, else
LOCATION/.procexport.key (0600), made by the first export that needs it and reused after, so
that a re-export is byte-identical. The key file is never in a manifest, so never removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
from pathlib import Path

from exporter.errors import ExportError

KEY_VARIABLE = "PROCEXPORT_SECRET_KEY"
KEY_FILE = ".procexport.key"
MIN_KEY_LENGTH = 32
KEYED_PREFIX = "hmac-sha256:"
_KEY_FILE_HEADER = (
    "# procexport: the private key of the keyed digests (HMAC-SHA256) of secrets in this\n"
    f"# directory's manifests and annotations. Keep it 0600. To share it, set {KEY_VARIABLE}.\n"
)
_NOT_REGULAR = "is not a regular file (a link?); refusing to read a key from it"
# Keys this process made for a LOCATION and has not saved yet (a first export, a dry run).
_new_keys: dict[str, bytes] = {}


def keyed_digest(location: Path | str | None, data: bytes) -> str | None:
    """HMAC-SHA256 of `data` under the private key for LOCATION, in hex; None when there is
    no key to use (a preview without LOCATION and without PROCEXPORT_SECRET_KEY)."""
    key = _key(location)
    if key is None:
        return None
    import hmac

    return hmac.new(key, data, hashlib.sha256).hexdigest()


def save_new_key(location: Path | str) -> bool:
    """Write the key this process made for LOCATION, if it made one: 0600 from the start,
    complete before it appears (a temporary hard-linked into place), never through a link
    and never over an existing file. Whether it wrote one."""
    key = _new_keys.pop(os.path.abspath(location), None)
    if key is None:
        return False
    path = os.path.join(location, KEY_FILE)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for attempt in itertools.count():
        temporary = f"{path}-tmp-{os.getpid()}-{attempt}"
        try:
            handle = os.open(temporary, flags, 0o600)
            break
        except FileExistsError:  # left by a crashed run that had the same pid
            continue
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(_KEY_FILE_HEADER.encode("ascii") + key + b"\n")
        try:
            os.link(temporary, path)  # fails if anything, a link included, is at `path`
        except FileExistsError:
            raise FileExistsError(
                errno.EEXIST, "another export made a key meanwhile; export again", path
            ) from None
    finally:
        os.unlink(temporary)
    return True


def forget_new_key(location: Path | str) -> None:
    """Remove the key save_new_key just wrote, when the export it was for failed: LOCATION is
    left exactly as it was (the next export makes a key again)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(location, KEY_FILE))


def _key(location: Path | str | None) -> bytes | None:
    from_environment = os.environ.get(KEY_VARIABLE)
    if from_environment:
        if len(from_environment) < MIN_KEY_LENGTH:
            raise ExportError(
                f"{KEY_VARIABLE} is too short: use at least {MIN_KEY_LENGTH} random characters "
                "(openssl rand -hex 32)"
            )
        return from_environment.encode("utf-8")
    if location is None:
        return None
    location = os.path.abspath(location)
    key = _read_key_file(os.path.join(location, KEY_FILE))
    if key is None:
        import secrets

        key = _new_keys.setdefault(location, secrets.token_hex(32).encode("ascii"))
    return key


def _read_key_file(path: str) -> bytes | None:
    """The key in LOCATION/.procexport.key; None when there is none yet."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        handle = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):  # LOCATION not a directory: sync says so
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise ExportError(_NOT_REGULAR, path) from None
        raise ExportError(f"cannot read: {exc.strerror}", path) from None
    with os.fdopen(handle, "rb") as key_file:
        info = os.fstat(key_file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ExportError(_NOT_REGULAR, path)
        if info.st_uid != os.geteuid():
            raise ExportError(
                "belongs to another account, which could read the secrets' digests with it: "
                "remove it to make a new one",
                path,
            )
        if info.st_mode & 0o077:
            raise ExportError(
                "others may read or change this key, so it protects nothing: chmod 600 it, "
                "or remove it to make a new one",
                path,
            )
        lines = key_file.read().decode("ascii", errors="replace").splitlines()
    key = "".join(line for line in lines if not line.startswith("#")).strip()
    if len(key) < MIN_KEY_LENGTH:
        raise ExportError("is not a key procexport can use: remove it to make a new one", path)
    return key.encode("utf-8")
