"""Restore: put the original wheels of lean distributions back, whole.

The plan comes from the environment's state (each lean distribution's original, by file
name, URL and sha256); its originals are fetched (from the cache, else their URL) and
installed over the lean ones, forced, under the journal; the state then forgets them.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import canonicalize_name

from lean_install.build import build
from lean_install.cache import Cache
from lean_install.environment import Environment
from lean_install.errors import RestoreError
from lean_install.fetch import fetch
from lean_install.install import apply
from lean_install.plan import DistributionPlan, Plan, Source
from lean_install.progress import Progress
from lean_install.runtime.records import State
from lean_install.state import read_state
from lean_install.target import TargetPip
from lean_install.verify import Verification, to_check, verify

__all__ = ["restore_plan", "restore"]


def restore_plan(env: Environment, state: State, names: Sequence[str]) -> Plan:
    """Keep the original of each of ``names`` (every lean distribution if empty)."""
    wanted = [str(canonicalize_name(n)) for n in names] or sorted(state.distributions)
    unknown = [n for n in wanted if n not in state.distributions]
    if unknown:
        raise RestoreError(
            f"lean-install did not install {', '.join(unknown)} in {env.prefix}",
            hint="lean-install restore takes the distributions a lean install stripped or "
            "stubbed; see them with: lean-install report --python " + env.executable,
        )
    dists = []
    for name in wanted:
        entry = state.distributions[name]
        original = entry.original
        source = Source(
            filename=original.filename, url=original.url, sha256=original.sha256 or None
        )
        dists.append(
            DistributionPlan(
                name=canonicalize_name(name),
                version=entry.version,
                decision="keep",
                reason="restored",
                source=source,
            )
        )
    return Plan(policy="safe", distributions=tuple(dists))


def restore(
    env: Environment,
    names: Sequence[str],
    *,
    target: TargetPip,
    cache: Cache,
    progress: Progress,
    on_miss: str | None = None,
) -> tuple[list[str], Verification | None]:
    """Put back the original wheels of ``names`` (all lean ones if empty), and verify the
    environment; return them and what verification found (None: nothing to check)."""
    state = read_state(env)
    plan = restore_plan(env, state, names)
    if not plan.distributions:
        progress.note("nothing to restore: no lean distribution in this environment")
        return [], None
    progress.step("fetching originals", len(plan.distributions))
    sources = sorted(
        {o for d in plan.distributions for o in state.distributions[d.name].index_options}
    )
    originals = fetch(plan.distributions, cache, target, sources)
    built = build(plan, originals, cache, progress)
    apply(env, target, plan, built, cache, progress, reinstall=True, on_miss=on_miss)
    restored = [str(d.name) for d in plan.distributions]  # the state forgot them: not lean
    check = to_check(env, state.checks)
    return restored, verify(target, check) if check.modules or check.libraries else None
