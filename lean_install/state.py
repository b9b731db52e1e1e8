"""The environment's state: what lean installs left in it (``<prefix>/lean-install/state.json``).

For each lean distribution, the original it came from (``restore`` and the reserve put it
back from there); the cache the install used; the on-miss mode; what ``--prune`` removed.
The record type is ``runtime.records.State`` (the reserve reads it inside programs); this
module is how lean-install reads, checks and changes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from lean_install.cache import Cache
from lean_install.environment import Environment
from lean_install.errors import RecordError, UsageError
from lean_install.plan import Plan
from lean_install.runtime import layout
from lean_install.runtime.records import ON_MISS_MODES, Checks, Installed, Original, State

__all__ = ["read_state", "record_install", "configure_on_miss", "record_pruned"]


def read_state(env: Environment) -> State:
    """The state of ``env`` (empty if none); a damaged one is a RecordError naming each problem."""
    state, issues = State.read(env.prefix)
    if issues:
        path = layout.state_path(env.prefix, layout.STATE_FILE)
        raise RecordError(
            path,
            issues,
            hint=f"move {path} aside; the lean distributions it "
            "described can then only be restored by reinstalling them with pip",
        )
    return state


def record_install(
    env: Environment,
    plan: Plan,
    cache: Cache,
    sources: Sequence[str],
    on_miss: str | None,
    checks: Mapping[str, Checks] | None = None,
) -> None:
    """Record the originals of the plan's lean distributions (for ``restore`` and the
    reserve), the cache, the on-miss mode if given, and what verification checks of the
    plan's distributions; kept ones are no longer lean."""
    state = read_state(env)
    dists = dict(state.distributions)
    for dist in plan.installed:
        if not dist.rebuilt or dist.source is None:
            dists.pop(dist.name, None)
            continue
        original = Original(
            filename=dist.source.filename, url=dist.source.url, sha256=dist.source.sha256 or ""
        )
        dists[dist.name] = Installed(
            version=dist.version,
            lean_version=dist.lean_version,
            decision=dist.decision,
            profile=dist.profile_label,
            original=original,
            index_options=tuple(sources),
        )
    on = on_miss if on_miss is not None else state.on_miss
    checked = {**state.checks, **(checks or {})}
    new = replace(
        state, cache=str(cache.root.resolve()), on_miss=on, distributions=dists, checks=checked
    )
    new.write(env.prefix)


def configure_on_miss(env: Environment, mode: str) -> None:
    """Set what a program does from now on when it reaches removed code in ``env``."""
    if mode not in ON_MISS_MODES:
        raise UsageError(f"on-miss must be one of {', '.join(ON_MISS_MODES)}, not {mode!r}")
    replace(read_state(env), on_miss=mode).write(env.prefix)


def record_pruned(env: Environment, pruned: Mapping[str, str]) -> None:
    """Remember the distributions ``install --prune`` uninstalled (name -> version)."""
    state = read_state(env)
    replace(state, pruned={**state.pruned, **pruned}).write(env.prefix)
