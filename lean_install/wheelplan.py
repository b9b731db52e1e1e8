"""The files of one wheel: which it keeps, which it drops, which modules become stubs.

Planning one wheel has two halves around the shared-library closure, which crosses
distributions (``closure``): ``roots`` says what the wheel keeps for its own sake, by the
rules conda packages are planned by too (``rules``: ``exact``, ``listing``, ``modules``,
``safe``), or, for a distribution the profile never used whose libraries kept libraries
need, ``needed``; ``finish`` turns what it keeps in the end into its plan.

Always: ``.dist-info``, console scripts, entry-point targets, ``.pth`` and top-level
files, files outside site-packages that a program needs, and the ``__init__`` chain of
every kept file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from packaging.version import InvalidVersion, Version

from lean_install import rules
from lean_install.listing import Contents, WheelListing
from lean_install.plan import Decision, DistributionPlan, Policy, Rule
from lean_install.profile import DistributionUsage
from lean_install.runtime import layout

__all__ = ["Roots", "roots", "needed_roots", "finish", "unstripped"]


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


@dataclass
class Roots:
    """What one wheel keeps for its own sake, before the shared-library closure."""

    contents: Contents
    rule: Rule
    keep: set[str]
    probed_modules: set[str] = field(default_factory=set)
    """Modules the profile only probed: they become stubs, their ``__init__`` chain stays."""
    loaded: set[str] = field(default_factory=set)
    """Members this version's profile saw loaded (their needs it saw mapped are met)."""
    exact: tuple[DistributionUsage, ...] = ()
    others: tuple[DistributionUsage, ...] = ()


def roots(
    preliminary: DistributionPlan,
    listing: WheelListing,
    usages: Sequence[DistributionUsage],
    policy: Policy,
) -> Roots:
    """What a ``strip`` candidate keeps for its own sake (see the module docstring)."""
    contents = Contents(listing, preliminary.name)
    usages = [u for u in usages if u.name == preliminary.name]
    exact = tuple(
        u for u in usages if policy == "profile" and _same_version(u.version, preliminary.version)
    )
    others = tuple(u for u in usages if u not in exact)
    kept = rules.roots(contents, exact, others, policy)
    return Roots(contents, kept.rule, kept.keep, kept.probed_modules, kept.loaded, exact, others)


def needed_roots(
    preliminary: DistributionPlan, listing: WheelListing, needed: Iterable[str]
) -> Roots:
    """What a distribution the profile never used keeps: the members other kept libraries
    need (and its metadata, scripts and entry points)."""
    contents = Contents(listing, preliminary.name)
    return Roots(contents, "needed", set(needed) | contents.always_kept())


# -- the plan, once the closure is known ----------------------------------------------------


def finish(preliminary: DistributionPlan, roots: Roots, keep: Collection[str]) -> DistributionPlan:
    """The plan of a wheel that keeps ``keep`` (its roots and what the closure added)."""
    contents = roots.contents
    members = contents.listing.members
    total = sum(members.values())
    drop = [m for m in members if m not in keep]
    stubs = _stubs(contents, drop, set(keep), roots.probed_modules)
    notes = _version_notes(preliminary, roots)
    if roots.rule in ("modules", "safe", "listing"):
        notes += _category_notes(contents, drop)
    reason = _strip_reason(preliminary, roots, keep, total)
    if preliminary.decision == "swap":
        reason = f"{preliminary.reason}; {reason}"
    decision: Decision = "swap" if preliminary.decision == "swap" else "strip" if drop else "keep"
    return replace(
        preliminary,
        bytecode=_imported_sources(contents, set(keep), roots.exact)
        if roots.exact and drop
        else None,
        decision=decision,
        rule=roots.rule,
        reason=reason if drop else f"nothing to drop ({reason})",
        drop=tuple(drop),
        stub_modules=tuple(stubs),
        notes=preliminary.notes + tuple(notes),
        bytes_installed=total,
        bytes_saved=sum(members[m] for m in drop),
    )


def unstripped(preliminary: DistributionPlan, listing: WheelListing | None) -> DistributionPlan:
    """Sizes for a plan that is not planned file by file: kept whole, stubbed (metadata
    stays), omitted. Without a listing (never fetched), the sizes stay unknown (0)."""
    if listing is None:
        return preliminary
    total = sum(listing.members.values())
    if preliminary.decision in ("keep", "swap"):
        return replace(preliminary, bytes_installed=total, bytes_saved=0)
    metadata = sum(s for m, s in listing.members.items() if m.startswith(listing.dist_info + "/"))
    saved = total - metadata if preliminary.decision == "stub" else total
    return replace(preliminary, bytes_installed=total, bytes_saved=saved)


def _imported_sources(
    contents: Contents, keep: set[str], exact: Sequence[DistributionUsage]
) -> tuple[str, ...]:
    """Kept sources whose bytecode the profile saw loaded: only those are compiled.

    A source read as text but never imported (transformers reads every model's source to
    build its lazy import table) needs no bytecode: 43 MB of it in the transformers case.
    """
    imported = {layout.source_of_bytecode(p) for u in exact for p in u.files if p.endswith(".pyc")}
    kept = {contents.installed[m] for m in keep}
    return tuple(sorted(p for p in imported if p is not None and p in kept))


def _stubs(
    contents: Contents, drop: Sequence[str], keep: set[str], probed_modules: set[str]
) -> set[str]:
    """The dropped modules that get a stub: the topmost under a kept package, and probed ones."""
    kept_dirs = {
        "/".join(parts[:i])
        for m in keep
        for parts in [contents.installed[m].split("/")]
        for i in range(1, len(parts))
    }
    stubs = set()
    for member in drop:
        module = contents.module_of.get(member)
        if module is None or any(m in keep for m in contents.members_of(module)):
            continue
        parent = module.rpartition(".")[0]
        if member in probed_modules or _package_kept(contents, parent, keep, kept_dirs):
            stubs.add(module)
    return stubs


def _package_kept(contents: Contents, package: str, keep: set[str], kept_dirs: set[str]) -> bool:
    """Whether ``package`` still exists: its ``__init__`` is kept, or (a namespace) its
    directory still has kept files, or it is a namespace made of namespaces from the root."""
    if not package:
        return True
    directory = package.replace(".", "/")
    inits = contents.inits.get(directory)
    if inits:
        return any(i in keep for i in inits)
    if directory in kept_dirs:
        return True
    parts = directory.split("/")
    return not any("/".join(parts[:i]) in contents.inits for i in range(1, len(parts)))


def _version_notes(preliminary: DistributionPlan, roots: Roots) -> list[str]:
    if not roots.others or roots.rule == "safe":
        return []
    versions = ", ".join(sorted({u.version for u in roots.others}))
    if roots.exact:
        return [f"the profile also saw {preliminary.name} {versions}: modules used there are kept"]
    if roots.rule == "listing":
        return [
            f"profile made on {preliminary.name} {versions}: files new in "
            f"{preliminary.version} are kept, files it had and never used are dropped"
        ]
    return [
        f"profile made on {preliminary.name} {versions}: applied by module names; "
        "files it knows nothing about are kept"
    ]


def _category_notes(contents: Contents, drop: Sequence[str]) -> list[str]:
    sizes: dict[str, list[int]] = {}
    for member in drop:
        removable = contents.classifier.removable(member)
        category = contents.classifier.category(member) if removable else "unused"
        sizes.setdefault(category, []).append(contents.listing.members[member])
    notes = [
        f"dropped {name}: {_mb(sum(s))} in {len(s)} files" for name, s in sorted(sizes.items())
    ]
    if contents.classifier.compiled_source is not None:
        notes.append(
            f"C/C++ headers kept: it ships C/C++ sources "
            f"({contents.classifier.compiled_source}) it may compile at run time"
        )
    if contents.classifier.build_tool:
        notes.append("headers and CMake files kept: a build tool")
    return notes


def _strip_reason(
    preliminary: DistributionPlan, roots: Roots, keep: Collection[str], total: int
) -> str:
    members = roots.contents.listing.members
    kept = [m for m in keep if m in members]
    size = sum(members[m] for m in kept)
    share = f"keeps {len(kept)} of {len(members)} files ({_mb(size)} of {_mb(total)})"
    if roots.rule == "exact":
        return f"the profile used it: {share}"
    if roots.rule == "listing":
        return f"profile made on another release or build: {share}"
    if roots.rule == "needed":
        return f"never used, but kept libraries need its libraries: {share}"
    if roots.rule == "safe":
        return "safe policy: drops only files a program does not run"
    if roots.others:
        return "profile made on another version: drops only files a program does not run"
    return "the profile has no entry for it: drops only files a program does not run"
