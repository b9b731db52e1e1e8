"""The ``conda lean`` commands: each completes an interrupted one first.

A strip or restore killed half-way leaves its journal (``journal``); every command here
runs that journal again, forward, before its own work, and says so.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

from lean_install.conda import journal
from lean_install.conda.plan import StripPlan
from lean_install.conda.records import conda_meta
from lean_install.conda.restore import lean_stems, restore, restore_stems
from lean_install.conda.strip import apply_strip, strip
from lean_install.errors import RecordError, UsageError
from lean_install.plan import Policy
from lean_install.runtime import layout
from lean_install.runtime.records import ON_MISS_MODES, State

__all__ = ["recover", "strip_prefix", "restore_prefix", "on_miss", "configure_on_miss"]


def recover(prefix: str | os.PathLike[str]) -> str:
    """Complete the operation a killed command left in ``prefix``; what was done ("" if
    there was none)."""
    prefix = Path(prefix).absolute()
    conda_meta(prefix)
    found = journal.pending(prefix)
    if found is None:
        return ""
    with layout.restore_lock(prefix):  # not while a program restores into the prefix
        if found.operation == "strip":
            apply_strip(prefix, found.steps)
        else:
            restore_stems(prefix, found.packages)
        journal.finish(prefix)
    return f"completed the interrupted `{found.command_line}` (started {found.started})"


def strip_prefix(
    prefix: str | os.PathLike[str],
    profile: str | os.PathLike[str] | None,
    *,
    policy: Policy | None = None,
    dry_run: bool = False,
    only: Collection[str] | None = None,
    on_miss_mode: str | None = None,
    symbols: bool = True,
    gpu_archs: Sequence[int] = (),
) -> tuple[str, StripPlan]:
    """``conda lean strip``: what was recovered first, and the plan followed (``only``: the
    package stems that may be stripped, None: all; ``on_miss_mode``: set the prefix's
    on-miss mode too; ``symbols``, ``gpu_archs``: what ``strip.strip`` does inside the
    kept libraries)."""
    if on_miss_mode is not None:
        _check_mode(on_miss_mode)
    done = "" if dry_run else recover(prefix)
    plan = strip(prefix, profile, policy=policy, dry_run=dry_run, only=only, symbols=symbols,
                 gpu_archs=gpu_archs)  # fmt: skip
    if on_miss_mode is not None and not dry_run:
        configure_on_miss(prefix, on_miss_mode)
    return done, plan


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


def _check_mode(mode: str) -> None:
    if mode not in ON_MISS_MODES:
        raise UsageError(
            f"on-miss must be one of {', '.join(ON_MISS_MODES)}, not {mode!r}",
            hint="conda lean config -p PREFIX on-miss restore",
        )


def _state(prefix: Path) -> State:
    state, issues = State.read(prefix)
    if issues:
        path = layout.state_path(prefix, layout.STATE_FILE)
        raise RecordError(path, issues, hint=f"remove {path}: the on-miss mode is then restore")
    return state


def on_miss(prefix: str | os.PathLike[str]) -> str:
    """``conda lean config -p PREFIX on-miss``: what a program there does when it reaches
    removed code (``PREFIX/lean-install/state.json``; ``restore`` when unset)."""
    conda_meta(prefix)
    return _state(Path(prefix)).mode


def configure_on_miss(prefix: str | os.PathLike[str], mode: str) -> None:
    """``conda lean config -p PREFIX on-miss MODE``: set it, for every program of the prefix
    (``LEAN_INSTALL_ON_MISS`` still overrides it for one process)."""
    _check_mode(mode)
    conda_meta(prefix)
    replace(_state(Path(prefix)), on_miss=mode).write(prefix)
