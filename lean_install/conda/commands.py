"""The ``conda lean`` commands: each completes an interrupted one first.

A strip or restore killed half-way leaves its journal (``journal``); every command here
runs that journal again, forward, before its own work, and says so.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from lean_install.conda import journal
from lean_install.conda.plan import StripPlan
from lean_install.conda.records import conda_meta
from lean_install.conda.restore import lean_stems, restore, restore_stems
from lean_install.conda.strip import apply_strip, strip

__all__ = ["recover", "strip_prefix", "restore_prefix"]


def recover(prefix: str | os.PathLike[str]) -> str:
    """Complete the operation a killed command left in ``prefix``; what was done ("" if
    there was none)."""
    prefix = Path(prefix).absolute()
    conda_meta(prefix)
    found = journal.pending(prefix)
    if found is None:
        return ""
    if found.operation == "strip":
        apply_strip(prefix, found.steps)
    else:
        restore_stems(prefix, found.packages)
    journal.finish(prefix)
    return f"completed the interrupted `{found.command_line}` (started {found.started})"


def strip_prefix(
    prefix: str | os.PathLike[str],
    profile: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    only: Collection[str] | None = None,
) -> tuple[str, StripPlan]:
    """``conda lean strip``: what was recovered first, and the plan followed (``only``: the
    package stems that may be stripped, None: all)."""
    done = "" if dry_run else recover(prefix)
    return done, strip(prefix, profile, dry_run=dry_run, only=only)


def restore_prefix(
    prefix: str | os.PathLike[str], names: tuple[str, ...] = (), *, dry_run: bool = False
) -> tuple[str, list[str]]:
    """``conda lean restore``: what was recovered first, and the packages restored (with
    ``dry_run``: the packages that would be)."""
    if dry_run:
        conda_meta(prefix)
        return "", list(lean_stems(Path(prefix).absolute(), names))
    done = recover(prefix)
    return done, restore(prefix, names)
