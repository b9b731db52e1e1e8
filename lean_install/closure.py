"""The closure of what is kept, across distributions.

A kept file keeps the ``__init__`` chain of its packages, and a kept shared library keeps
every library it needs (``DT_NEEDED``), found as the loader finds it (``dynlib``): through
its run path (``$ORIGIN/../../nvidia/cudnn/lib`` reaches another distribution's
directory), else by file name anywhere in site-packages. A need the trace saw met (a
library the profile saw loaded, needing a soname the trace saw mapped) is met: the
loader took an already-loaded library of that name, so a second copy elsewhere is not
needed (numpy.libs and scipy.libs ship the same libgfortran).

A library needed from a distribution that is not fetched (a stub or an omission) is a
*promotion*: that distribution must be fetched and keep that library; the planner does
so and closes again, until nothing more is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName

from lean_install.listing import WheelListing
from lean_install.runtime import dynlib
from lean_install.wheelplan import Roots

__all__ = ["Closure", "close"]

Member = tuple[NormalizedName, str]
"""(distribution, wheel member)."""


@dataclass
class Closure:
    """What each distribution keeps once closed, what others need of distributions that
    are not fetched, and why each library was kept."""

    keep: dict[NormalizedName, set[str]]
    promote: dict[NormalizedName, set[str]] = field(default_factory=dict)
    """Not fetched, but kept libraries need these members of it."""
    needed_by: dict[Member, Member] = field(default_factory=dict)
    """Why a library was added: which kept library needed it first."""


def close(
    roots: Mapping[NormalizedName, Roots],
    candidates: Mapping[NormalizedName, WheelListing],
    *,
    mapped: Collection[str] = (),
    dynamic: Callable[[NormalizedName, str], dynlib.Dynamic] | None = None,
) -> Closure:
    """Close ``roots`` (the fetched wheels) over ``__init__`` chains and shared libraries.

    ``candidates`` are the listings of the wheels that are not fetched (stubs,
    omissions): where a need may lead. ``mapped``: file names of the shared libraries the
    profile saw loaded. ``dynamic`` reads a fetched member's dynamic facts (default: its
    wheel listing's).
    """
    listings = {name: r.contents.listing for name, r in roots.items()}
    read = dynamic or (lambda name, member: listings[name].dynamic.get(member, dynlib.Dynamic()))
    tree, owner = _tree(listings, candidates)
    walk = _droppable_libraries(roots, candidates)
    keep: dict[NormalizedName, set[str]] = {name: set() for name in roots}
    closure = Closure(keep)
    queue: list[Member] = []

    def add(name: NormalizedName, member: str, why: Member | None) -> None:
        if member in keep[name]:
            return
        keep[name].add(member)
        queue.append((name, member))
        if why is not None:
            closure.needed_by.setdefault((name, member), why)

    for name, r in roots.items():
        for member in sorted(r.keep):
            add(name, member, None)
        for member in sorted(r.probed_modules):  # the stub stands where the probe looked
            for init in r.contents.init_chain(member):
                add(name, init, None)
    while queue:
        name, member = queue.pop()
        contents = roots[name].contents
        for init in contents.init_chain(member):
            add(name, init, None)
        if not walk or not contents.is_library(member):
            continue
        info = read(name, member)
        met = mapped if member in roots[name].loaded else ()
        for soname in info.needed:
            if soname in met:
                continue
            for path in tree.resolve(soname, listings[name].tree_path(member), info):
                other, needed = owner[path]
                if other in keep:
                    add(other, needed, (name, member))
                else:
                    closure.promote.setdefault(other, set()).add(needed)
    return closure


def _droppable_libraries(
    roots: Mapping[NormalizedName, Roots], candidates: Mapping[NormalizedName, WheelListing]
) -> bool:
    """Whether a need could add anything: some library is not kept yet. Reading a
    library's needs inflates it (434 MB for libtorch_cpu.so): not when all are kept."""
    if any(dynlib.is_shared_object_name(m) for c in candidates.values() for m in c.members):
        return True
    return any(m not in r.keep for r in roots.values() for m in r.contents.listing.dynamic)


def _tree(
    listings: Mapping[NormalizedName, WheelListing],
    candidates: Mapping[NormalizedName, WheelListing],
) -> tuple[dynlib.Libraries, dict[str, Member]]:
    """Every file of every wheel by tree path, and whose member each one is. A path two
    wheels both hold belongs to the first (fetched wheels before candidates)."""
    owner: dict[str, Member] = {}
    for group in (listings, candidates):
        for name, listing in group.items():
            for member in listing.members:
                owner.setdefault(listing.tree_path(member), (name, member))
    return dynlib.Libraries(owner), owner
