"""Building: the files a plan installs, one per installed distribution, from the cache.

``build`` is the only place that dispatches on a plan's decision: a stub distribution for
``stub``, a stripped wheel for a ``strip`` (or a ``swap`` that drops files), the original
for ``keep`` and a ``swap`` that drops nothing, nothing for ``omit`` or for a requirement
handed to pip as it is. Stripped wheels and stub distributions are cached by the
original's sha256 and the plan's digest: the same plan builds the same bytes once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from packaging.utils import NormalizedName

from lean_install.cache import Cache
from lean_install.errors import PlanError
from lean_install.plan import DistributionPlan, Plan
from lean_install.progress import Progress
from lean_install.strip import build_stripped_wheel, build_stub_distribution

__all__ = ["build", "build_one"]

_STUB_KEY = "0" * 64
"""Stub distributions have no original: one cache namespace for all of them."""


def build(
    plan: Plan, originals: Mapping[NormalizedName, Path], cache: Cache, progress: Progress
) -> dict[NormalizedName, Path]:
    """The file to install for each distribution of ``plan`` that has one."""
    progress.step("building lean wheels", sum(d.rebuilt for d in plan.distributions))
    built = {}
    for dist in plan.distributions:
        path = build_one(dist, originals.get(dist.name), cache)
        if path is not None:
            built[dist.name] = path
        if dist.rebuilt:
            progress.advance(dist.name)
    return built


def build_one(plan: DistributionPlan, original: Path | None, cache: Cache) -> Path | None:
    """The file that carries out ``plan`` (see the module docstring)."""
    if plan.decision == "omit" or (plan.source is not None and not plan.source.archive):
        return None
    if plan.decision == "stub":
        return _cached(cache, _STUB_KEY, plan, lambda tmp: build_stub_distribution(plan, tmp))
    if original is None:
        raise PlanError(
            f"{plan.name}: its original file was not fetched",
            hint="this is a bug in lean-install: please report it",
        )
    if not plan.rebuilt:
        return original
    sha256 = original.parent.name  # originals/<sha256>/<file>
    return _cached(cache, sha256, plan, lambda tmp: build_stripped_wheel(original, plan, tmp))


def _cached(cache: Cache, key: str, plan: DistributionPlan, make) -> Path:  # type: ignore[no-untyped-def]
    found = cache.stripped(key, plan.digest())
    if found is not None:
        return found
    with cache.temporary_directory() as tmp:
        return cache.add_stripped(key, plan.digest(), make(tmp), move=True)
