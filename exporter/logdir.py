"""-l DIR: the log directory must exist before the process manager opens a log in it
(supervisord refuses its whole configuration otherwise), writable by the processes' user."""

from __future__ import annotations

import os
import shlex

LOG_DIR_MODE = 0o750


def prepare_log_dir(path: str, owner: tuple[str, str | None]) -> list[str]:
    """Create `path` (mode 0750, owned by `owner`) when it is missing and we are root and the
    account exists here; otherwise the exact command to run instead. An existing directory is
    left as it is (it may be /var/log itself)."""
    if os.path.isdir(path):
        return []
    user, group = owner
    command = ["install", "-d", "-m", f"{LOG_DIR_MODE:04o}", "-o", user]
    command += ["-g", group] if group else []
    step = shlex.join([*command, path])
    ids = _account_ids(user, group)
    if ids is None:
        return [step]
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)  # parents as mkdir -p makes them
        os.chown(path, *ids)
        os.chmod(path, LOG_DIR_MODE)
    except OSError:
        return [step]
    return []


def _account_ids(user: str, group: str | None) -> tuple[int, int] | None:
    """(uid, gid) when the accounts exist on this machine and we may give a directory to them:
    as root, or when the user is who we are."""
    import grp
    import pwd

    try:
        account = pwd.getpwnam(user)
        gid = grp.getgrnam(group).gr_gid if group else account.pw_gid
    except KeyError:
        return None
    if os.geteuid() != 0 and (account.pw_uid != os.geteuid() or gid not in os.getgroups()):
        return None
    return account.pw_uid, gid
