"""What a sync plan means to a person: a unified diff for --dry-run, a summary after a write."""

from __future__ import annotations

from exporter.sync import Action, Change, SyncPlan

_COLORS = {"header": "\033[1m", "-": "\033[31m", "+": "\033[32m", "@": "\033[36m"}
_RESET = "\033[0m"


def unified_diff(plan: SyncPlan, color: bool = False) -> str:
    """Every pending change as a git-style diff with a/ and b/ labels relative to LOCATION."""
    return "".join(_change_diff(change, color) for change in plan.pending)


def _change_diff(change: Change, color: bool) -> str:
    import difflib

    header = [f"diff --procexport a/{change.path} b/{change.path}\n"]
    if change.action is Action.CREATE:
        header.append(f"new file mode {change.new_mode:04o}\n")
    elif change.action is Action.REMOVE:
        header.append(f"deleted file mode {change.old_mode:04o}\n")
    elif change.old_mode != change.new_mode:
        header += [f"old mode {change.old_mode:04o}\n", f"new mode {change.new_mode:04o}\n"]
    old = (change.old_text or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    new = (change.new_text or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    body = []
    if old != new:
        body = [
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}")
        ]
    if not color:
        return "".join(header + body)
    painted = [_COLORS["header"] + line.rstrip("\n") + _RESET + "\n" for line in header]
    for line in body:
        kind = "header" if line.startswith(("---", "+++")) else line[:1]
        code = _COLORS.get(kind)
        painted.append(code + line.rstrip("\n") + _RESET + "\n" if code else line)
    return "".join(painted)


def interrupted_note(plan: SyncPlan) -> str:
    """For --dry-run: the cleanup an export would do first (an interrupted one's journal)."""
    return "".join(
        f"procexport: {plan.location}: an interrupted export ({name}) will be cleaned up first\n"
        for name in plan.interrupted
    )


def summary(plan: SyncPlan, next_steps: list[str]) -> str:
    counts = ", ".join(
        f"{plan.number_of(action)} {action.value}"
        for action in (Action.CREATE, Action.UPDATE, Action.REMOVE, Action.KEEP)
    )
    lines = [f"procexport: {plan.location}: {counts}\n"]
    if plan.pending and next_steps:
        lines.append("next:\n")
        lines += [f"  {step}\n" for step in next_steps]
    return "".join(lines)
