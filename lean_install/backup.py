"""The backup: the distributions a command is about to replace, kept so that the
environment can be returned to what it was before the command (when verification fails
even after the originals were put back).

``take`` hard-links (or copies) every file the replaced distributions' RECORDs list into
``<prefix>/lean-install/backup/`` and writes a list of them; installers unlink files
before they write new ones, so the links keep the old content. ``put_back`` uninstalls
what the command installed and links the old files back; ``discard`` removes it all.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lean_install.environment import Environment
from lean_install.runtime import layout
from lean_install.target import TargetPip

__all__ = ["Backup", "take", "put_back", "discard", "link_or_copy"]

_DIRECTORY = "backup"


@dataclass(frozen=True)
class Backup:
    """What was there before: each replaced distribution's version and files."""

    directory: Path
    versions: dict[str, str]
    files: dict[str, str]
    """Absolute path in the environment -> its copy in the backup."""
    present: tuple[str, ...]
    """Every distribution installed before the command."""


def _directory(env: Environment) -> Path:
    return Path(layout.state_path(env.prefix, _DIRECTORY))


def take(env: Environment, names: Sequence[str]) -> Backup:
    """Keep the files of the installed distributions among ``names``."""
    directory = _directory(env)
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "files").mkdir(parents=True)
    installed = {d.name: d for d in env.distributions()}
    versions: dict[str, str] = {}
    files: dict[str, str] = {}
    for name in names:
        dist = installed.get(name)  # type: ignore[call-overload]
        if dist is None:
            continue
        versions[dist.name] = dist.version
        for path in dist.files:
            source = dist.absolute(path)
            if source.is_file() or source.is_symlink():
                copy = directory / "files" / str(len(files))
                link_or_copy(source, copy)
                files[str(source)] = str(copy)
    state = Path(layout.state_path(env.prefix, layout.STATE_FILE))
    if state.is_file():  # put back with the rest: it describes what is installed
        copy = directory / "files" / "state"
        shutil.copy2(state, copy)
        files[str(state)] = str(copy)
    backup = Backup(directory, versions, files, tuple(sorted(installed)))
    record = {"versions": versions, "files": files, "present": list(backup.present)}
    layout.write_atomically(directory / "backup.json", json.dumps(record).encode())
    return backup


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy across file systems; a symlink as
    a symlink)."""
    if source.is_symlink():
        target.symlink_to(source.readlink())
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def put_back(env: Environment, target: TargetPip, backup: Backup) -> None:
    """Return ``env`` to what the backup saw: what the command added goes, what it
    replaced comes back."""
    now = {d.name for d in env.distributions()}
    added = sorted(now - set(backup.present))
    target.uninstall([*added, *sorted(set(backup.versions) & now)])
    state = Path(layout.state_path(env.prefix, layout.STATE_FILE))
    if str(state) not in backup.files:
        state.unlink(missing_ok=True)
    for original, copy in backup.files.items():
        path = Path(original)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        link_or_copy(Path(copy), path)


def discard(env: Environment) -> None:
    shutil.rmtree(_directory(env), ignore_errors=True)
