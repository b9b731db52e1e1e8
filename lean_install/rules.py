"""The rules: what a distribution keeps for its own sake, a wheel or a conda package alike.

The one planner of lean-install applies these rules to both kinds of input. A wheel
(``listing.Contents``) and a conda package (``conda.plan.PackageFiles``) each show their
files as ``Files``: members, the path a profile writes for each, modules, what no program
needs (``classify``) and what is always kept. ``rule_for`` chooses the rule from the
policy and the profile's usages of that distribution; ``roots`` applies it:

- ``exact``: a profile made on this very version (and build): every file it loaded stays,
  every file it only probed still exists (a module as a stub, its ``__init__`` chain
  kept), nothing else it did not use;
- ``listing``: a profile made on another release or build that recorded that release's
  files: the files new in this one stay (bytecode is as new as its source), the files it
  had and never used go;
- ``modules``: a profile made on another version without a listing: only what no program
  needs goes, never a file or module the profile saw;
- ``safe``: the safe policy: only what no program needs goes, never a file the profile saw.

In each, the files the profile saw in any version it was made on stay, by path and by
module name (a module that moved, ``x.py`` to ``x/__init__.py`` or an extension, stays),
and so does what the input kind always keeps (metadata, scripts, ``.pth`` files). What
the closure adds across distributions (shared libraries, ``__init__`` chains, links)
comes after, on each kind's tree of files.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lean_install.plan import Policy, Rule
from lean_install.profile import DistributionUsage
from lean_install.runtime import layout

__all__ = ["Files", "Kept", "rule_for", "roots"]


class Files(Protocol):
    """A distribution's files as the rules see them; a *member* is how the input names a
    file (a wheel's archive member, a conda package's prefix path)."""

    @property
    def installed(self) -> Mapping[str, str]:
        """Each member's path as a profile writes it."""
        ...

    @property
    def outside(self) -> Collection[str]:
        """Members no profile sees (a wheel's ``.data`` files outside site-packages)."""
        ...

    @property
    def module_of(self) -> Mapping[str, str]:
        """The module each module file defines."""
        ...

    def lookup(self, path: str) -> list[str]:
        """The members a profile path names (a ``.pyc`` names its source too)."""
        ...

    def members_of(self, module: str) -> list[str]: ...

    def module_at(self, path: str) -> str | None:
        """The module a profile path defines, if any."""
        ...

    def removable(self, member: str) -> bool:
        """Whether no program needs ``member`` (tests, headers, ...: ``classify``)."""
        ...

    def always_kept(self) -> set[str]: ...


@dataclass
class Kept:
    """What one distribution keeps for its own sake, under which rule."""

    rule: Rule
    keep: set[str]
    probed_modules: set[str] = field(default_factory=set)
    """Modules the profile only probed: they become stubs, their ``__init__`` chain stays."""
    loaded: set[str] = field(default_factory=set)
    """Members this version's profile saw loaded (their needs it saw mapped are met)."""


def rule_for(
    policy: Policy, exact: Sequence[DistributionUsage], others: Sequence[DistributionUsage]
) -> Rule:
    """How the profile applies to one distribution. ``exact``: its usages of this very
    version (and build); ``others``: of other versions. ``safe`` under the safe policy,
    else ``exact``, else ``listing`` where another version's usage recorded its files,
    else ``modules``."""
    if policy == "safe":
        return "safe"
    if exact:
        return "exact"
    if any(u.listing for u in others):
        return "listing"
    return "modules"


def roots(
    files: Files,
    exact: Sequence[DistributionUsage],
    others: Sequence[DistributionUsage],
    policy: Policy,
) -> Kept:
    """What ``files`` keeps for its own sake under the rule ``rule_for`` chooses."""
    rule = rule_for(policy, exact, others)
    probed: set[str] = set()
    if rule == "exact":
        keep, probed = _exact(files, exact)
    elif rule == "listing":
        keep = _new(files, others)
    else:
        keep = {m for m in files.installed if not files.removable(m)}
    keep |= files.always_kept() | _protected(files, [*exact, *others], exact)
    loaded = {m for u in exact for p in u.files for m in files.lookup(p)}
    return Kept(rule, keep, probed - keep, loaded)


def _exact(files: Files, exact: Sequence[DistributionUsage]) -> tuple[set[str], set[str]]:
    """What a same-version profile keeps (loaded files, probed non-modules and, where no
    profile sees, what a program needs) and the modules it only probed."""
    keep = {m for m in files.outside if not files.removable(m)}
    probed_modules: set[str] = set()
    for usage in exact:
        for path in usage.files:
            keep.update(files.lookup(path))
        for path in usage.probed:
            for member in files.lookup(path):
                (probed_modules if member in files.module_of else keep).add(member)
    return keep, probed_modules


def _new(files: Files, others: Sequence[DistributionUsage]) -> set[str]:
    """Members the traced releases did not have (bytecode: as new as its source), unless
    no program needs them; and, where no profile sees, what a program needs."""
    listings = [u.listing for u in others if u.listing]
    return {
        m
        for m, path in files.installed.items()
        if not files.removable(m)
        and (
            m in files.outside
            or not any((layout.source_of_bytecode(path) or path) in ls for ls in listings)
        )
    }


def _protected(
    files: Files, usages: Sequence[DistributionUsage], exact: Sequence[DistributionUsage]
) -> set[str]:
    """Files the profile saw, by path and by module name, in any version it was made on.

    Probed modules of a same-version profile are left out: they become stubs.
    """
    keep: set[str] = set()
    for usage in usages:
        paths = usage.files if usage in exact else (*usage.files, *usage.probed)
        for path in paths:
            keep.update(files.lookup(path))
            module = files.module_at(path)
            if module is not None:
                keep.update(files.members_of(module))
    return keep
