"""Planning: the one function that makes the whole plan (``make_plan``).

resolve -> choose the profile -> decide from metadata -> list the wheels not fetched ->
fetch what is kept -> plan each wheel's files -> close over ``__init__`` chains and shared
libraries across distributions (fetching what that promotes) -> the plan. Nothing after
it changes a decision: ``build`` carries it out, and install, wheel, lock and the rest
differ only in what they do with the built files.

Decisions from metadata (``decide``), before any download: with the ``profile`` policy,
a distribution the profile used (at any version) is a ``strip`` candidate; one it never
used is a ``stub``, or ``omit`` when only extras the user asked for need it (requested
distributions are never omitted); with ``safe``, every wheel is a ``strip`` candidate.
An sdist is kept whole (it is built by pip); a local directory or VCS checkout is handed
to pip as it is.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName

from lean_install import __version__
from lean_install.cache import Cache
from lean_install.catalog import choose_bundled, is_bundled, load_profiles
from lean_install.closure import close
from lean_install.errors import LeanInstallError
from lean_install.fetch import FETCHED, fetch, local_path
from lean_install.listing import LazyDynamic, WheelListing, top_level_modules
from lean_install.plan import Decision, DistributionPlan, Plan, Policy, Source, choose_policy
from lean_install.profile import DistributionUsage, Profile
from lean_install.progress import Progress
from lean_install.resolve import Resolution, ResolvedDistribution
from lean_install.runtime import dynlib, layout
from lean_install.runtime.records import Checks
from lean_install.runtime.tables import Issue, Table
from lean_install.siblings import add_siblings
from lean_install.sources import index_options
from lean_install.target import TargetPip
from lean_install.variants import Swapped, VariantSources, find_swaps, is_gpu_runtime
from lean_install.verify import planned_checks
from lean_install.wheel import OriginalWheel
from lean_install.wheelplan import finish, needed_roots, roots, unstripped

__all__ = [
    "PLAN_FORMAT",
    "plan_wheel",
    "name_stubs",
    "Request",
    "Planned",
    "make_plan",
    "listings_of",
    "decide",
    "choose_policy",
]

PLAN_FORMAT = 8
"""Bumped whenever planning's output changes for the same inputs: remembered plans of
another format are not reused."""


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the user asked for: pip's arguments, the profiles, the policy."""

    pip_args: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    """Paths or bundled names; none: the bundled profiles that cover the request, if any."""
    policy: Policy | None = None
    """None: ``profile`` with a profile, ``safe`` without."""
    auto_profile: bool = True
    variants: VariantSources = field(default_factory=VariantSources)
    symbols: bool = True
    """Strip the symbol tables of the shared libraries rebuilt wheels keep."""
    gpu_archs: tuple[int, ...] = ()
    """Prune the fatbins of every platform wheel's libraries to these (``fatbin.prune``)."""


@dataclass(frozen=True)
class Planned:
    """A plan, the originals it keeps (in the cache), and the profile it was made from."""

    plan: Plan
    originals: dict[NormalizedName, Path] = field(default_factory=dict)
    profile: Profile | None = None
    listings: dict[NormalizedName, WheelListing] = field(default_factory=dict)
    """The file lists of the wheels planned (fetched and not), where known: verification
    says from them which distribution a failure points at."""
    checks: dict[str, Checks] = field(default_factory=dict)
    """What verifying the installed plan checks (made with the plan, remembered with it)."""


def make_plan(request: Request, target: TargetPip, cache: Cache, progress: Progress) -> Planned:
    """Resolve, decide, fetch what is kept and plan every file: the complete plan."""
    progress.note(f"resolving for {target.env.executable}")
    with ThreadPoolExecutor(1) as beside:  # uv or pip resolves in its own process
        resolving = beside.submit(target.resolve, request.pip_args)
        given = _given_profile(request)  # read meanwhile
        resolution = resolving.result()
    profile, label, notes, curated = given or _bundled_profile(request, resolution, progress)
    policy = choose_policy(profile, request.policy)
    swapped = find_swaps(request.pip_args, resolution, profile, request.variants, target)
    for note in swapped.notes:
        progress.note(note)
    resolution, notes = swapped.resolution, notes + swapped.notes
    sources = index_options([*request.pip_args, *swapped.extra_args])
    for name in _profile_only(profile, resolution, target):
        progress.warn(f"the profile used {name}, which the resolution does not hold")
    key = _plan_key(resolution, profile, label, policy, notes, swapped, curated)
    listings: dict[NormalizedName, WheelListing] = {}
    remembered = _remembered(cache.plan(key))
    if remembered is not None:
        plan, checks = remembered
    else:
        plan, listings = _plan(
            resolution, profile, label, policy, notes, target, cache, progress,
            sources=sources, swapped=swapped, curated=curated,
        )  # fmt: skip
        checks = planned_checks(plan, profile, listings)
        cache.add_plan(key, {"format": PLAN_FORMAT, "plan": plan.to_dict(),
                             "checks": {n: c.to_dict() for n, c in checks.items()}})  # fmt: skip
    plan = _below_files(plan, request)
    originals = fetch([d for d in plan.distributions if d.decision in FETCHED], cache, target,
                      sources)  # fmt: skip
    return Planned(plan, originals, profile, listings, checks)


def _below_files(plan: Plan, request: Request) -> Plan:
    """The plan with GPU code pruned in every platform wheel kept (then rebuilt) and symbols
    stripped in every rebuilt wheel: applied after the plan cache (the same plan either way)."""
    dists = []
    for d in plan.distributions:
        wheel = d.source.filename if d.source else ""
        platform = wheel.endswith(".whl") and not wheel.endswith("-any.whl")
        if request.gpu_archs and d.decision in FETCHED and platform:
            d = replace(d, decision="strip" if d.decision == "keep" else d.decision,
                        gpu_archs=request.gpu_archs)  # fmt: skip
        if request.symbols and d.decision in ("strip", "swap") and d.rebuilt:
            d = replace(d, symbols=True)
        dists.append(d)
    return replace(plan, distributions=tuple(dists))


def _remembered(record: dict[str, Any] | None) -> tuple[Plan, dict[str, Checks]] | None:
    """The plan and checks a cache record holds; None for another format or a damaged one."""
    if record is None or record.get("format") != PLAN_FORMAT:
        return None
    try:
        plan = Plan.from_dict(record["plan"], "remembered plan")
        issues: list[Issue] = []
        checks = Table(record, "remembered plan", issues).table("checks")
        found = {str(n): Checks.from_table(checks.table(str(n))) for n in checks.data}
    except (KeyError, TypeError, LeanInstallError):
        return None
    return None if issues else (plan, found)


def listings_of(plan: Plan, cache: Cache) -> dict[NormalizedName, WheelListing]:
    """The file lists of the plan's wheels, from the cache or their files' central directory
    (what verification needs when the plan was remembered)."""
    found = {}
    for dist in plan.distributions:
        source = dist.source
        if source is None or not source.archive or not source.filename.endswith(".whl"):
            continue
        resolved = ResolvedDistribution(name=dist.name, version=dist.version, url=source.url,
            filename=source.filename, sha256=source.sha256, requested=False)  # fmt: skip
        try:
            found[dist.name] = _central_directory(resolved, cache)
        except (OSError, zipfile.BadZipFile, ValueError):
            continue
    return found


Given = tuple[Profile | None, str, tuple[str, ...], bool]
"""A profile, its label, the plan's notes on it, whether it is curated (bundled: ``siblings``)."""


def _given_profile(request: Request) -> Given | None:
    """The profile the request names (or none, where no bundled one may be chosen); None
    where the resolution chooses a bundled one."""
    if request.profiles or not request.auto_profile or request.policy == "safe":
        profile, label = load_profiles(request.profiles)
        return profile, label, (), any(is_bundled(spec) for spec in request.profiles)
    return None


def _bundled_profile(request: Request, resolution: Resolution, progress: Progress) -> Given:
    versions = {d.name: d.version for d in resolution.distributions}
    choice = choose_bundled(resolution.requested, versions)
    if choice is None:
        note = "no bundled profile covers the request: the safe policy applies"
        progress.note(note)
        return None, "", (note,), False
    profile, label = load_profiles(choice.names)
    how = "traced on these very versions" if choice.exact else "traced on other versions"
    note = f"using the bundled profile {label} ({how}; see: lean-install profile list)"
    progress.note(note)
    return profile, label, (note,), True


def _profile_only(profile: Profile | None, resolution: Resolution, target: TargetPip) -> list[str]:
    """Distributions the profile used that neither the resolution nor the target holds.

    (setuptools is in most profiles: its ``.pth`` file imports ``_distutils_hack`` at
    start-up; the target's own copy serves it.)
    """
    if profile is None:
        return []
    resolved = {d.name for d in resolution.distributions}
    missing = {d.name for d in profile.distributions if d.used} - resolved
    return sorted(name for name in missing if target.env.distribution(name) is None)


def _plan_key(
    resolution: Resolution,
    profile: Profile | None,
    label: str,
    policy: Policy,
    notes: Sequence[str],
    swapped: Swapped,
    curated: bool,
) -> str:
    """A digest of everything a plan is made from (and records: the target's markers, each
    file's URL, the notes, the builds swapped)."""
    dists = [
        (d.name, d.version, d.filename, d.sha256, d.url, d.size, d.requested, d.is_archive)
        for d in resolution.distributions
    ]
    canon = json.dumps(
        [
            __version__,
            PLAN_FORMAT,
            policy,
            label,
            profile.usage_digest() if profile else "",
            dists,
            {n: list(v) for n, v in resolution.extras_only.items()},
            resolution.marker_environment,
            list(notes),
            {n: s.to_dict() for n, s in swapped.swaps.items()},
            [(d.name, d.sha256, d.url) for d in swapped.dropped],
            curated,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


# -- the plan ---------------------------------------------------------------------------------


def _plan(
    resolution: Resolution,
    profile: Profile | None,
    label: str,
    policy: Policy,
    notes: tuple[str, ...],
    target: TargetPip,
    cache: Cache,
    progress: Progress,
    *,
    sources: Sequence[str],
    swapped: Swapped,
    curated: bool,
) -> tuple[Plan, dict[NormalizedName, WheelListing]]:
    plans = decide(resolution, profile, policy, profile_label=label)
    plans.update(_swap_plans(plans, resolution, swapped, cache))
    progress.step(
        "listing the wheels not fetched",
        sum(p.decision in ("stub", "omit") for p in plans.values()),
    )
    candidates = _candidate_listings(resolution, plans, cache, progress)
    plans = name_stubs(plans, profile, candidates)
    fetched_plans = [p for p in plans.values() if p.decision in FETCHED]
    progress.step("fetching", len(fetched_plans))
    originals = fetch(fetched_plans, cache, target, sources)
    progress.step("planning files", len(originals))
    listings = _listings(originals, cache)
    all_roots = {
        n: roots(plans[n], listings[n], profile.find(n) if profile else [], policy)
        for n in listings
        if plans[n].decision in ("strip", "swap")
    }
    if curated:
        add_siblings(all_roots, originals)
    mapped = _mapped_libraries(profile)
    closure = close(all_roots, candidates, mapped=mapped)
    while closure.promote:
        promoted = {
            n: replace(plans[n], decision="strip", stub_modules=(), notes=())
            for n in closure.promote
        }
        plans.update(promoted)
        originals.update(fetch(list(promoted.values()), cache, target, sources))
        for name, members in closure.promote.items():
            listings[name] = _listings({name: originals[name]}, cache)[name]
            all_roots[name] = needed_roots(plans[name], listings[name], members)
            candidates.pop(name, None)
        closure = close(all_roots, candidates, mapped=mapped)
    _remember_dynamic(listings, originals, cache)
    final = []
    for name, preliminary in plans.items():
        if name in all_roots:
            final.append(finish(preliminary, all_roots[name], closure.keep[name]))
        else:
            final.append(unstripped(preliminary, listings.get(name) or candidates.get(name)))
        progress.advance(name)
    plan = Plan(
        policy=policy,
        profile_label=label,
        profile_digest=profile.usage_digest() if profile else "",
        distributions=tuple(final),
        markers=dict(resolution.marker_environment),
        notes=notes,
    )
    return plan, {**candidates, **listings}


def _mapped_libraries(profile: Profile | None) -> frozenset[str]:
    """File names of the shared libraries the profile saw loaded, in any distribution."""
    if profile is None:
        return frozenset()
    return frozenset(
        path.rsplit("/", 1)[-1]
        for dist in profile.distributions
        for path in dist.files
        if dynlib.is_shared_object_name(path)
    )


def _listings(
    originals: Mapping[NormalizedName, Path], cache: Cache
) -> dict[NormalizedName, WheelListing]:
    """The listing of every fetched wheel (sdists have none); opening a wheel checks it."""
    found = {}
    for name, path in originals.items():
        if not path.name.endswith(".whl"):
            continue
        with OriginalWheel.open(path) as wheel:
            found[name] = wheel.listing(cache.dynamic(path.parent.name))
    return found


def _remember_dynamic(
    listings: Mapping[NormalizedName, WheelListing],
    originals: Mapping[NormalizedName, Path],
    cache: Cache,
) -> None:
    for name, listing in listings.items():
        if isinstance(listing.dynamic, LazyDynamic) and listing.dynamic.read:
            cache.add_dynamic(originals[name].parent.name, listing.dynamic.read)


def plan_wheel(
    preliminary: DistributionPlan,
    listing: WheelListing,
    usages: Sequence[DistributionUsage],
    policy: Policy,
    *,
    mapped: frozenset[str] = frozenset(),
) -> DistributionPlan:
    """The plan of one wheel on its own (its closure within itself): what ``make_plan``
    does for each wheel, for a wheel whose libraries need nothing from others."""
    if preliminary.decision not in ("strip", "swap"):
        return unstripped(preliminary, listing)
    own = roots(preliminary, listing, usages, policy)
    closed = close({preliminary.name: own}, {}, mapped=mapped)
    return finish(preliminary, own, closed.keep[preliminary.name])


def _swap_plans(
    plans: Mapping[NormalizedName, DistributionPlan],
    resolution: Resolution,
    swapped: Swapped,
    cache: Cache,
) -> dict[NormalizedName, DistributionPlan]:
    """The swapped distributions' plans, with the installed bytes avoided (from the central
    directories of what the swap left out, less the CPU builds')."""
    avoided = 0
    for dist, sign in [
        *((d, 1) for d in swapped.dropped),
        *((d, -1) for d in resolution.distributions if d.name in swapped.swaps),
    ]:
        try:
            avoided += sign * sum(_central_directory(dist, cache).members.values())
        except (OSError, zipfile.BadZipFile, ValueError):
            continue
    found = {}
    for name, swap in swapped.swaps.items():
        swap = replace(swap, bytes_avoided=avoided)
        gone = len(swap.dropped_dependencies)
        reason = (f"the profile never used a GPU: the CPU build of {name} {swap.version}, with "
                  f"{gone} distributions less, {swap.download_avoided / 1e9:.2f} GB less to "
                  f"download, {avoided / 1e9:.2f} GB less installed")  # fmt: skip
        found[name] = replace(plans[name], decision="swap", swap=swap, reason=reason)
    return found


# -- decisions from metadata -------------------------------------------------------------------


def decide(
    resolution: Resolution, profile: Profile | None, policy: Policy, *, profile_label: str = ""
) -> dict[NormalizedName, DistributionPlan]:
    """The preliminary plan of every resolved distribution, from metadata only."""
    policy = choose_policy(profile, policy)
    cpu_only = policy == "profile" and profile is not None and not profile.uses_gpu
    plans: dict[NormalizedName, DistributionPlan] = {}
    for dist in resolution.distributions:
        usages = profile.find(dist.name) if profile is not None else []
        extras_only = dist.name in resolution.extras_only and not dist.requested
        gpu_code = cpu_only and _gpu_probe(dist.name, usages)
        decision, reason = _decide_one(dist, usages, policy, extras_only, gpu_code=gpu_code)
        if decision == "omit":
            reason += f" ({', '.join(resolution.extras_only[dist.name])})"
        plans[dist.name] = DistributionPlan(
            name=dist.name,
            version=dist.version,
            decision=decision,
            reason=reason,
            source=Source(
                filename=dist.filename,
                url=dist.url,
                sha256=dist.sha256,
                size=dist.size,
                archive=dist.is_archive,
            ),
            profile_label=profile_label,
            profile_digest=_usage_digest(usages),
            gpu_code=gpu_code,
        )
    return plans


GPU_PROBE = (
    "GPU code: the profile never used a GPU, and importing it only asked whether one is "
    "there (a CPU-only run does without it); it stays out in every on-miss mode"
)


def _gpu_probe(name: NormalizedName, usages: Sequence[DistributionUsage]) -> bool:
    """A GPU runtime package (``triton``, ``cuda-bindings``) whose Python modules the
    profile saw imported, on a profile that never used a GPU: the import was a probe.
    A library another kept library needs still comes back through the closure."""
    return is_gpu_runtime(name) and any(
        layout.module_name(path) for u in usages for path in u.files
    )


def _decide_one(
    dist: ResolvedDistribution,
    usages: Sequence[DistributionUsage],
    policy: Policy,
    extras_only: bool,
    *,
    gpu_code: bool = False,
) -> tuple[Decision, str]:
    if gpu_code:
        return "stub", GPU_PROBE
    used = any(u.used for u in usages)
    if policy == "profile" and not used:
        if extras_only:
            return "omit", "the profile never used it and only extras need it"
        if not _probed_files(usages):
            return "stub", "the profile never used it"
    if not dist.is_archive:
        return "keep", (
            f"not a file ({dist.url}): pip installs it as it is, without "
            "leaning (lean-install strips wheels)"
        )
    if not dist.is_wheel:
        return "keep", f"not a wheel ({dist.filename}): lean-install strips wheels only"
    if policy == "safe":
        return "strip", "safe policy: drops only files a program does not run"
    if used:
        return "strip", "the profile used it"
    return "strip", "the profile only probed it: probed files stay, its modules are stubbed"


def _probed_files(usages: Sequence[DistributionUsage]) -> bool:
    """Whether the profile probed files of it other than modules and metadata."""
    return any(
        layout.module_name(path) is None and ".dist-info/" not in path
        for usage in usages
        for path in usage.probed
    )


def _usage_digest(usages: Sequence[DistributionUsage]) -> str:
    """Digest of what the profile used of one distribution: other entries do not change it."""
    if not usages:
        return ""
    canon = json.dumps([u.to_dict() for u in usages], sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


# -- the wheels that are not fetched ------------------------------------------------------------


def _candidate_listings(
    resolution: Resolution,
    plans: Mapping[NormalizedName, DistributionPlan],
    cache: Cache,
    progress: Progress,
) -> dict[NormalizedName, WheelListing]:
    """The file lists of the wheels not fetched (stubs, omissions): from the cache, the
    local file, or the central directory read at the wheel's URL with range requests (a
    few KiB). A wheel that cannot be listed is left out, with a warning."""
    found = {}
    for dist in resolution.distributions:
        if plans[dist.name].decision not in ("stub", "omit") or not dist.is_wheel:
            continue
        try:
            found[dist.name] = _central_directory(dist, cache)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            progress.warn(f"{dist.name}: its wheel could not be listed ({exc})")
        progress.advance(dist.name)
    return found


def _central_directory(dist: ResolvedDistribution, cache: Cache) -> WheelListing:
    cached = cache.original(dist.sha256) if dist.sha256 else None
    path = cached or local_path(dist.url)
    if path is not None:
        archive = zipfile.ZipFile(path)
    else:
        from lean_install.runtime.reserve_http import open_zip

        archive = open_zip(dist.url)[0]
    with archive:
        infos = [i for i in archive.infolist() if not i.filename.endswith("/")]
    names = [i.filename for i in infos]
    infos_dirs = {
        n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
    }
    dist_info = next(iter(sorted(infos_dirs)), f"{dist.name}-{dist.version}.dist-info")
    return WheelListing(dist_info=dist_info, members={i.filename: i.file_size for i in infos})


def name_stubs(
    plans: Mapping[NormalizedName, DistributionPlan],
    profile: Profile | None,
    candidates: Mapping[NormalizedName, WheelListing],
) -> dict[NormalizedName, DistributionPlan]:
    """The modules each stub distribution stands for: what the profile saw of it, else its
    wheel's top-level modules (PyYAML's stub stands for ``yaml``), else, when its wheel
    could not be listed, its name with ``-`` as ``_`` (a guess, and the plan says so).

    A module whose parents the profile never saw is taken whole (``google.protobuf`` when
    only ``google/protobuf/__init__.py`` was seen: ``google`` may be a namespace).
    """
    out = dict(plans)
    for name, plan in plans.items():
        if plan.decision != "stub":
            continue
        usages = profile.find(name) if profile is not None else []
        modules = _seen_modules(usages)
        notes: tuple[str, ...] = ()
        if not modules and name in candidates:
            modules = top_level_modules(candidates[name].members)
            if not modules:
                notes = ("its wheel holds no module of its own (a namespace's files only): "
                         "its stub is metadata only",)  # fmt: skip
        elif not modules:
            modules = (name.replace("-", "_"),)
            notes = (f"its wheel could not be listed: its stub stands for {modules[0]}, a guess",)
        out[name] = replace(plan, stub_modules=modules, notes=plan.notes + notes)
    return out


def _seen_modules(usages: Sequence[DistributionUsage]) -> tuple[str, ...]:
    seen = {
        m for u in usages for p in (*u.files, *u.probed) if (m := layout.module_name(p)) is not None
    }
    names = set()
    for module in seen:
        parts = module.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        names.add(next(p for p in prefixes if p in seen))
    return tuple(sorted(names))
