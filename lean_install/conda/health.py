"""The lean state of a conda prefix, for ``conda doctor``: reported, never fixed.

What it says: which packages lean-install stripped (from which profile, how many files
removed, how many stubs) and how to restore them; an interrupted ``conda lean`` command
(and that the next one completes it); a stripped package whose record conda rewrote
since (reinstalled: the manifest no longer describes it); a stub that is gone or
changed. It never reinstalls anything: a lean package's removed files are what the
profile asked for, not damage.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from lean_install.conda import journal
from lean_install.conda.manifest import read_manifests
from lean_install.conda.plan import restore_command
from lean_install.conda.records import CONDA_META, is_conda_prefix, read_record
from lean_install.errors import LeanInstallError
from lean_install.runtime import layout

__all__ = ["LeanState", "lean_state"]


@dataclass
class LeanState:
    """What ``conda doctor`` prints: ``problems`` (each a sentence) and ``lean`` packages."""

    lean: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_package(prefix: Path, stem: str, stubs: tuple[str, ...], state: LeanState) -> None:
    record_file = prefix / CONDA_META / f"{stem}.json"
    if not record_file.exists():
        state.problems.append(f"{stem}: stripped, but conda removed the package since")
        return
    record = read_record(record_file)
    files = set(record.files)
    if any(s not in files for s in stubs):
        state.problems.append(
            f"{stem}: conda rewrote its record since the strip (reinstalled?): "
            "lean-install's manifest of it no longer applies"
        )
        return
    for stub in stubs:
        entry = record.entries.get(stub)
        path = prefix / stub
        intact = layout.is_stub_file(path) and entry is not None
        if intact and entry is not None:
            intact = hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256_in_prefix
        if not intact:
            state.problems.append(f"{stem}: the stub {stub} is missing or changed")


def _rewritten_said(rewritten: tuple[str, ...]) -> str:
    n = len(rewritten)
    return f", {n} librar{'ies' if n != 1 else 'y'} smaller inside" if n else ""


def lean_state(prefix: str | os.PathLike[str]) -> LeanState:
    """The lean state of ``prefix`` (empty for a prefix lean-install never stripped)."""
    prefix = Path(prefix)
    state = LeanState()
    if not is_conda_prefix(prefix):
        return state
    try:
        pending = journal.Journal.read(prefix)
        if pending is not None:
            state.problems.append(
                f"an interrupted `{pending.command_line}` (started {pending.started}): the next "
                f"conda lean strip or restore -p {prefix} completes it"
            )
        for stem, manifest in read_manifests(prefix).items():
            state.lean.append(
                f"{stem}: stripped (profile {manifest.profile or '?'}): "
                f"{len(manifest.removed)} files removed, {len(manifest.stubs)} stubs"
                f"{_rewritten_said(manifest.rewritten)}; "
                f"restore with: {restore_command(prefix, manifest.name)}"
            )
            _check_package(prefix, stem, manifest.stubs, state)
    except LeanInstallError as exc:
        state.problems.append(str(exc))
    return state
