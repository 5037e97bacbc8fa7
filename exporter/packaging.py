"""Where an export goes: LOCATION as the configuration names it, the directory written, and
the manifest. `--destdir DIR` (make install's DESTDIR) splits the first two for a package
build: files go under DIR + LOCATION while every path inside them is the installed one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from exporter.errors import ExportError
from exporter.formation import Options
from exporter.formats import FileChange, Format, Rendering
from exporter.plan import Plan


class Destination(NamedTuple):
    installed: Path  # LOCATION as the configuration names it (render)
    directory: Path  # where the files are written (sync): DIR + LOCATION with --destdir
    manifest: Path | None  # None: no manifest (--destdir without --manifest)
    staging: Path | None  # DIR with --destdir


def destination(
    location: Path, destdir: str | None, manifest: str | None, default_manifest: str
) -> Destination:
    """Check the packaging options and say where each thing goes."""
    manifest_path = Path(os.path.abspath(manifest)) if manifest is not None else None
    if destdir is None:
        default = location / default_manifest
        return Destination(location, location, manifest_path or default, None)
    if not location.is_absolute():
        raise ExportError(
            f"--destdir: LOCATION {str(location)!r} must be absolute: the path the files have "
            "once the package is installed"
        )
    installed = Path(os.path.normpath(location))
    staging = Path(os.path.abspath(destdir))
    directory = staging / str(installed).lstrip("/")
    _refuse_links_below(staging, installed)
    if manifest_path is not None and _inside(manifest_path, staging):
        raise ExportError(
            f"--manifest {manifest}: inside --destdir {destdir}, so it would ship in the "
            "package; keep it outside the tree"
        )
    return Destination(installed, directory, manifest_path, staging)


def check_installed_paths(plan: Plan, fmt: Format, staging: Path, options: Options) -> None:
    """With --destdir every path the configuration names must be a path as installed."""
    for what, given in (("--root", options.root), ("--log", options.log)):
        if given and not os.path.isabs(given):  # it would name a directory of this machine
            raise ExportError(
                f"--destdir: {what} {given!r} must be absolute: the path as installed"
            )
    if not plan.root_given and fmt.names_root:
        raise ExportError(
            "--destdir: name the working directory as installed with --root or `root` in "
            "formation.toml; the default, the Procfile's directory, is a path on this machine"
        )
    for what, path in (("--root", plan.root), ("--log", plan.log)):
        if path is not None and _inside(Path(path), staging):
            raise ExportError(
                f"--destdir: {what} {path} lies inside the staging tree; give the path as installed"
            )


def check_manifest_is_not_written(
    destination: Destination, rendering: Rendering, default_name: str
) -> None:
    """--manifest must not name a file the export writes or a directory it makes, nor lie in
    a directory it writes into below LOCATION (which the export would make, or fill), nor name
    one of procexport's own files in LOCATION (its key, lock or journals), nor anything but a
    file. Compared as real paths: however either is spelled (a link to LOCATION, `//`), the
    same file is the same file."""
    if destination.manifest is None:
        return
    manifest = os.path.abspath(destination.manifest)
    # LOCATION's own manifest, not named by --manifest: plan_sync refuses a link or directory
    # there as it does any file in LOCATION, and --force replaces it
    default = destination.manifest == destination.directory / default_name
    if not default and (os.path.isdir(manifest) or os.path.islink(manifest)):
        raise ExportError(
            f"--manifest {destination.manifest}: is a directory or a symbolic link; name a file"
        )
    # realpath resolves the links along the part that exists and keeps the rest as written
    real_manifest = os.path.realpath(manifest)
    inside = os.path.join(os.path.realpath(destination.directory), "")
    if not real_manifest.startswith(inside):
        return  # outside LOCATION: nothing of the export is there
    relative = real_manifest[len(inside) :]
    directory, _, name = relative.rpartition("/")
    # procexport's own files there: its key, journals, other apps' and formats' manifests
    if not directory and name.startswith(".procexport") and name != default_name:
        raise ExportError(
            f"--manifest {destination.manifest}: procexport keeps a file of its own there; "
            "choose another path"
        )
    # The rendering's paths are plain relative ones (plan_sync refuses any other before it
    # writes): one of them is the manifest only when the manifest is that path inside LOCATION.
    if relative in rendering:
        raise ExportError(
            f"--manifest {destination.manifest}: the export writes a file there; "
            "choose another path"
        )
    if relative != default_name:  # no rendered path lies below the default manifest
        below, beside = f"{relative}/", f"{directory}/"
        for path in rendering:
            if path.startswith(below):
                raise ExportError(
                    f"--manifest {destination.manifest}: the export makes a directory there; "
                    "choose another path"
                )
            if directory and path.startswith(beside):
                raise ExportError(
                    f"--manifest {destination.manifest}: lies in a directory the export "
                    "writes into; keep it outside LOCATION or directly in it"
                )


def without_owners(rendering: Rendering) -> Rendering:
    """Nothing is chowned in a staging tree: the accounts are those of the build machine."""
    return {path: file._replace(owner=None) for path, file in rendering.items()}


def package_steps(fmt: Format, app: str, installed: Path, rendering: Rendering) -> list[str]:
    """What the package must do, instead of commands to run on the build machine."""
    if fmt.package_steps is not None:
        steps = fmt.package_steps(app, str(installed))
    else:  # the steps of a first install of every file, marked for after the install
        created = [FileChange("created", path, file.unit) for path, file in rendering.items()]
        first = fmt.next_steps(app, created, str(installed))
        steps = [f"after install: {step}" for step in first]
    for relative, file in rendering.items():
        if file.mode & 0o077:
            continue
        path = os.path.join(str(installed), relative)
        user, group = file.owner or ("root", "root")
        attr = f"%attr({file.mode:04o},{user},{group or '-'}) {path}"
        steps.append(
            f"keep {path} {file.mode:04o}: dh_fixperms makes it 0644 unless told "
            f"`dh_fixperms -X{os.path.basename(relative)}`; RPM %files: {attr}"
        )
        if file.owner is not None:
            owner = f"{user}:{group}" if group else user
            steps.append(
                f"postinst: chown {owner} {path} (create the account first, in preinst/%pre)"
            )
    return steps


def _refuse_links_below(staging: Path, installed: Path) -> None:
    """Every directory from DESTDIR down to DESTDIR + LOCATION must be a real one: a link
    there would take the files out of the tree (DESTDIR itself may be a link)."""
    current = staging
    for part in installed.parts[1:]:
        current = current / part
        if current.is_symlink():
            raise ExportError(
                "is a symbolic link inside --destdir; the files would be written outside the "
                "tree: remove the link",
                str(current),
            )
        if not current.exists():
            return


def _inside(path: Path, directory: Path) -> bool:
    """`path` is `directory` or lies under it, symlinks resolved."""
    real, real_directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([real, real_directory]) == real_directory
