"""What an export means to a person: the preview of a rendering, a unified diff for --dry-run,
a summary after a write."""

from __future__ import annotations

from exporter.private_view import Reader, is_private_change, key_changes, shown_text
from exporter.rendering import Rendering
from exporter.sync import Action, Change, SyncPlan

_COLORS = {"header": "\033[1m", "-": "\033[31m", "+": "\033[32m", "@": "\033[36m"}
_RESET = "\033[0m"


def preview(rendering: Rendering) -> str:
    """Without LOCATION: every file under a header line naming its path, content verbatim
    (private: keys only)."""
    return "".join(f"==> {path} <==\n{shown_text(file)}" for path, file in rendering.items())


def unified_diff(plan: SyncPlan, color: bool = False, files: Rendering | None = None) -> str:
    """Every pending change as a git-style diff with a/ and b/ labels relative to LOCATION;
    for a private file, the keys that changed (named by the rendered File's reader)."""
    files = files or {}
    return "".join(
        _change_diff(change, color, files[change.path].entries if change.path in files else None)
        for change in plan.pending
    )


def _change_diff(change: Change, color: bool, reader: Reader | None = None) -> str:
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
    if is_private_change(change.old_mode, change.new_mode):
        body = key_changes(change.old_text, change.new_text, reader)
    elif old != new:
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


def summary(plan: SyncPlan, next_steps: list[str], always: bool = False) -> str:
    """The counts, then the next steps when anything changed (or `always`)."""
    counts = ", ".join(
        f"{plan.number_of(action)} {action.value}"
        for action in (Action.CREATE, Action.UPDATE, Action.REMOVE, Action.KEEP)
    )
    lines = [f"procexport: {plan.location}: {counts}\n"]
    if (plan.pending or always) and next_steps:
        lines.append("next:\n")
        lines += [f"  {step}\n" for step in next_steps]
    return "".join(lines)


def package_summary(plan: SyncPlan, package_steps: list[str]) -> str:
    """After writing into a staging tree: counts, then what the package must do."""
    lines = [summary(plan, [])]
    if package_steps:
        lines.append("nothing was run or chowned here; in the package:\n")
        lines += [f"  {step}\n" for step in package_steps]
    return "".join(lines)
