"""The plan: for each resolved distribution, keep, strip (with the files to drop), stub or omit.

The plan is the single source of truth for what is dropped: strip, install, lock and
report read it and never re-derive it. It is made in two phases:

- ``decide`` reads metadata only, before any download: a distribution the profile used
  is a *strip* candidate, one it never used becomes a *stub* (a metadata-only stand-in),
  and one that only extras pull in and that the profile never used is *omitted* (not
  installed at all). Under the ``safe`` policy every wheel is a strip candidate.
- ``plan_wheel`` runs once the wheel is fetched and lists the files to drop.

Policies. ``profile`` drops what the profile never used, within the safety rules.
``safe`` needs no profile and drops only the categories in ``SAFE_CATEGORIES`` (each
says why it is safe and how to keep it); a profile given with ``safe``, or made on
another version of a distribution, only protects what it saw.

Safety rules, always: keep ``.dist-info``; keep every file the profile saw loaded; a
file it saw only probed still exists afterwards (a module as a stub, any other file as
is); keep the ELF ``DT_NEEDED`` closure of every kept shared library, the ``__init__``
chain of every kept file, console scripts, entry-point targets, ``.pth`` files and
top-level files; a profile made on another version is applied by module names.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from lean_install.errors import PlanError
from lean_install.stubs import stub_digest

if TYPE_CHECKING:
    from lean_install.profile import DistributionUsage, Profile
    from lean_install.resolve import Resolution, ResolvedDistribution

__all__ = [
    "Decision",
    "Policy",
    "DistributionPlan",
    "Plan",
    "WheelListing",
    "SafeCategory",
    "SAFE_CATEGORIES",
    "decide",
    "plan_wheel",
    "source_of_pyc",
    "module_name",
    "entry_point_modules",
    "resolve_soname",
    "BUILD_TOOLS",
    "top_level_modules",
]

Decision = Literal["keep", "strip", "stub", "omit"]
Policy = Literal["profile", "safe"]


def original_version(version: str) -> str:
    """``2.13.0+cpu.lean.ab12`` → ``2.13.0+cpu``; ``1.0+lean.ab12`` → ``1.0``."""
    head, sep, local = version.partition("+")
    if not sep:
        return version
    parts = local.split(".")
    if "lean" in parts:
        parts = parts[: parts.index("lean")]
    return f"{head}+{'.'.join(parts)}" if parts else head


@dataclass(frozen=True, kw_only=True)
class DistributionPlan:
    """The decision for one distribution and everything needed to carry it out."""

    name: NormalizedName
    version: str
    """The resolved (original) version."""
    decision: Decision
    reason: str
    drop: tuple[str, ...] = ()
    """Paths (as the original wheel's RECORD writes them) left out of the stripped wheel."""
    stub_modules: tuple[str, ...] = ()
    """Dotted names of removed modules and packages that get a stub in their place."""
    notes: tuple[str, ...] = ()
    bytes_installed: int = 0
    """Uncompressed bytes of the original wheel's files (0 if unknown: not fetched)."""
    bytes_saved: int = 0
    profile_label: str = ""
    """How stubs name the profile (its file name, or a bundled profile's name)."""
    profile_digest: str = ""
    bytecode: tuple[str, ...] | None = None
    """The sources (installed paths) to compile after installing: those whose bytecode
    the profile saw loaded. None: compile every source, as pip does. Not part of the
    digest: it does not change the wheel."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop", tuple(sorted(set(self.drop))))
        if self.bytecode is not None:
            object.__setattr__(self, "bytecode", tuple(sorted(set(self.bytecode))))
        object.__setattr__(self, "stub_modules", tuple(sorted(set(self.stub_modules))))

    def digest(self) -> str:
        """Short digest of everything that goes into the stripped wheel besides the original:
        the plan, and the stubs' template and runtime when it has stubs."""
        runtime = stub_digest() if self.stub_modules else ""
        canon = json.dumps(
            [
                self.name,
                self.version,
                self.decision,
                self.drop,
                self.stub_modules,
                self.profile_label,
                self.profile_digest,
                *([runtime] if runtime else []),
            ]
        )
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    @property
    def lean_version(self) -> str:
        """The version of the stripped wheel: the original plus ``lean.<digest>`` as local label."""
        if self.decision == "keep":
            return self.version
        sep = "." if "+" in self.version else "+"
        return f"{self.version}{sep}lean.{self.digest()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "decision": self.decision,
            "reason": self.reason,
            "drop": list(self.drop),
            "stub-modules": list(self.stub_modules),
            "notes": list(self.notes),
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
            **({} if self.bytecode is None else {"bytecode": list(self.bytecode)}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistributionPlan:
        return cls(
            name=canonicalize_name(str(data["name"])),
            version=str(data["version"]),
            decision=cast(Decision, data["decision"]),
            reason=str(data.get("reason", "")),
            drop=tuple(data.get("drop", ())),
            stub_modules=tuple(data.get("stub-modules", ())),
            notes=tuple(data.get("notes", ())),
            bytes_installed=int(data.get("bytes-installed", 0)),
            bytes_saved=int(data.get("bytes-saved", 0)),
            profile_label=str(data.get("profile-label", "")),
            profile_digest=str(data.get("profile-digest", "")),
            bytecode=None if data.get("bytecode") is None else tuple(data["bytecode"]),
        )


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The plan for a whole resolved environment."""

    policy: Policy
    profile_label: str = ""
    profile_digest: str = ""
    distributions: tuple[DistributionPlan, ...] = ()

    @property
    def bytes_installed(self) -> int:
        return sum(d.bytes_installed for d in self.distributions)

    @property
    def bytes_saved(self) -> int:
        return sum(d.bytes_saved for d in self.distributions)

    def get(self, name: str) -> DistributionPlan | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions if d.name == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "profile-label": self.profile_label,
            "profile-digest": self.profile_digest,
            "bytes-installed": self.bytes_installed,
            "bytes-saved": self.bytes_saved,
            "distributions": [d.to_dict() for d in self.distributions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            policy=cast(Policy, data["policy"]),
            profile_label=str(data.get("profile-label", "")),
            profile_digest=str(data.get("profile-digest", "")),
            distributions=tuple(DistributionPlan.from_dict(d) for d in data["distributions"]),
        )


@dataclass(frozen=True, kw_only=True)
class WheelListing:
    """What planning needs to know of a wheel's contents, without its bytes."""

    dist_info: str
    """The ``.dist-info`` directory name inside the wheel."""
    members: Mapping[str, int]
    """Every file path (as RECORD writes it) and its uncompressed size."""
    needed: Mapping[str, tuple[str, ...]]
    """For each ELF shared object member, its DT_NEEDED sonames."""
    entry_points: str = ""
    """The text of ``entry_points.txt`` (empty if none)."""


# -- the safe categories -------------------------------------------------------


@dataclass(frozen=True)
class SafeCategory:
    """A kind of file a program does not run: what the ``safe`` policy drops, and why."""

    name: str
    what: str
    why: str
    keep: str


_TRACE_TO_KEEP = (
    "trace a workload that uses them and plan with that profile: a file a profile saw "
    "loaded or probed is never dropped (files a compiler opens need the strace backend)"
)

SAFE_CATEGORIES: tuple[SafeCategory, ...] = (
    SafeCategory(
        name="tests",
        what="files under a directory named `tests` or `test` (not `testing`)",
        why="a package's own test suite: its developers run it; nothing the package "
        "exports imports it",
        keep=_TRACE_TO_KEEP,
    ),
    SafeCategory(
        name="headers",
        what="C/C++/CUDA headers (.h .hh .hpp .hxx .cuh .inl .ipp .tcc) and other non-code "
        "files under `include/` directories",
        why="only a compiler building against the package reads them; a distribution that "
        "ships C/C++ sources (it may compile at run time: torch.compile, triton) and the "
        "build tools in BUILD_TOOLS keep theirs",
        keep=_TRACE_TO_KEEP,
    ),
    SafeCategory(
        name="static-libraries",
        what="static libraries and import libraries (.a, .lib)",
        why="linked into programs at build time; the dynamic loader never opens them",
        keep=_TRACE_TO_KEEP,
    ),
    SafeCategory(
        name="cmake",
        what="`*.cmake`, `CMakeLists.txt`, non-code files under `cmake/` directories "
        "(`share/cmake`, `lib/cmake`)",
        why="only CMake reads them, when a C/C++ project builds against the package; the "
        "build tools in BUILD_TOOLS keep theirs",
        keep=_TRACE_TO_KEEP,
    ),
    SafeCategory(
        name="type-stubs",
        what="`.pyi` files beside their `.py` source or extension module",
        why="type checkers and editors read them; the interpreter imports the module itself",
        keep=_TRACE_TO_KEEP,
    ),
    SafeCategory(
        name="docs",
        what="non-code files under `doc/` or `docs/` directories; README, CHANGELOG and "
        "similar .md/.rst files inside packages",
        why="documentation for people. Other .md/.rst files are kept: packages read some at "
        "run time (scikit-learn's dataset descriptions, model card templates)",
        keep=_TRACE_TO_KEEP,
    ),
)

BUILD_TOOLS: frozenset[str] = frozenset(
    {
        "cmake",
        "cython",
        "meson",
        "meson-python",
        "nanobind",
        "pybind11",
        "scikit-build",
        "scikit-build-core",
    }
)
"""Distributions whose run time is someone's build: their headers and CMake files stay."""

_HEADER_SUFFIXES = frozenset({".h", ".hh", ".hpp", ".hxx", ".cuh", ".inl", ".ipp", ".tcc"})
_SOURCE_SUFFIXES = frozenset({".c", ".cc", ".cpp", ".cxx", ".cu"})
_DOC_STEMS = (
    "README",
    "CHANGELOG",
    "CHANGES",
    "HISTORY",
    "NEWS",
    "CONTRIBUTING",
    "CODE_OF_CONDUCT",
    "RELEASE",
    "AUTHORS",
    "TODO",
)
_NOT_SHIPPED_DIRS = frozenset({"tests", "test", "include", "doc", "docs"})
_EXTENSION = re.compile(r"\.(?:(?:cpython|pypy|graalpy|cp)[^./]*|abi3)\.(?:so|pyd)$|\.pyd$")


# -- path helpers ----------------------------------------------------------------


def source_of_pyc(path: str) -> str | None:
    """The source a bytecode path stands for: ``a/__pycache__/m.cpython-311.pyc`` -> ``a/m.py``.

    The tracer may see a module load as its ``.pyc``; wheels ship the ``.py``. None if
    ``path`` is not bytecode.
    """
    if not path.endswith(".pyc"):
        return None
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        stem = parts[-1].split(".", 1)[0]
        return "/".join([*parts[:-2], stem + ".py"])
    return path[:-1]


def module_name(path: str) -> str | None:
    """The dotted module a path (relative to site-packages) defines, or None.

    ``a/b.py`` -> ``a.b``; ``a/b/__init__.py`` -> ``a.b``; an extension module with a
    tagged suffix (``.cpython-311-x86_64-linux-gnu.so``, ``.abi3.so``, ``.pyd``) -> its
    name. Untagged ``.so`` files are shared libraries, not modules (``torch/lib/libc10.so``).
    """
    parts = path.split("/")
    base = parts[-1]
    if base.endswith(".py"):
        stem = base[:-3]
    elif _EXTENSION.search(base):
        stem = base.split(".", 1)[0]
    else:
        return None
    names = parts[:-1] if stem == "__init__" else [*parts[:-1], stem]
    if not names or not all(n.isidentifier() for n in names):
        return None
    return ".".join(names)


def entry_point_modules(text: str) -> set[str]:
    """The modules that entry points (every group, console scripts included) point to."""
    modules = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        target = line.split("=", 1)[1].split(":", 1)[0].split("[", 1)[0].strip()
        if target and all(part.isidentifier() for part in target.split(".")):
            modules.add(target)
    return modules


def resolve_soname(soname: str, members: Iterable[str]) -> tuple[str, ...]:
    """The wheel members a ``DT_NEEDED`` soname may load, matched by basename.

    Every member of that basename (safety beats size: the run path is not known here),
    else members named ``<soname>.<more>`` (``libfoo.so.1`` -> ``libfoo.so.1.2``).
    Sonames the wheel does not carry (``libc.so.6``) resolve to nothing.
    """
    return _resolve_soname(soname, _by_basename(members))


def _by_basename(members: Iterable[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for member in members:
        index.setdefault(member.rsplit("/", 1)[-1], []).append(member)
    return index


def _resolve_soname(soname: str, by_basename: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    if soname in by_basename:
        return tuple(by_basename[soname])
    prefix = soname + "."
    return tuple(m for base, ms in by_basename.items() if base.startswith(prefix) for m in ms)


def _suffix(base: str) -> str:
    return "." + base.rsplit(".", 1)[1].lower() if "." in base else ""


def _profile_module(path: str) -> str | None:
    return module_name(source_of_pyc(path) or path)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


# -- one wheel's contents, indexed -------------------------------------------------


class _Contents:
    """A wheel listing indexed by installed path, module name, package and basename.

    Members under ``<name>.data/purelib`` and ``platlib`` install into site-packages
    and are indexed by that path, which is how profiles write them; other ``.data``
    members install outside it, where no profile sees them.
    """

    def __init__(self, listing: WheelListing, name: str) -> None:
        self.listing = listing
        data = listing.dist_info.removesuffix(".dist-info") + ".data/"
        self.scripts_prefix = data + "scripts/"
        self.dist_info_prefix = listing.dist_info + "/"
        self.installed = {m: _installed_path(m, data) for m in listing.members}
        self.outside = {m for m, i in self.installed.items() if i.startswith(data)}
        self.by_installed = {i: m for m, i in self.installed.items()}
        self.module_of: dict[str, str] = {}
        self.modules: dict[str, list[str]] = {}
        self.inits: dict[str, list[str]] = {}
        for member, path in self.installed.items():
            mod = None if self._not_code_place(member) else module_name(path)
            if mod is not None:
                self.module_of[member] = mod
                self.modules.setdefault(mod, []).append(member)
                if path.rsplit("/", 1)[-1].startswith("__init__."):
                    self.inits.setdefault(mod.replace(".", "/"), []).append(member)
        self.by_basename = _by_basename(listing.members)
        self._sonames: dict[str, tuple[str, ...]] = {}
        self.build_tool = canonicalize_name(name) in BUILD_TOOLS
        self.compiled_source = next(
            (m for m in sorted(listing.members) if self._shipped_source(m)), None
        )

    def _not_code_place(self, member: str) -> bool:
        """``.dist-info`` and ``.data`` members outside site-packages hold no modules."""
        return member.startswith(self.dist_info_prefix) or member in self.outside

    def _shipped_source(self, member: str) -> bool:
        parts = self.installed[member].split("/")
        return _suffix(parts[-1]) in _SOURCE_SUFFIXES and not _NOT_SHIPPED_DIRS & set(parts)

    def lookup(self, path: str) -> list[str]:
        """The members a profile path names (a ``.pyc`` names its source)."""
        candidates = (path, source_of_pyc(path))
        return [self.by_installed[p] for p in candidates if p in self.by_installed]

    def members_of(self, module: str) -> list[str]:
        return self.modules.get(module, [])

    def always_kept(self) -> set[str]:
        """.dist-info, scripts, ``.pth`` and top-level files, entry-point targets."""
        keep = {
            m
            for m, path in self.installed.items()
            if m.startswith((self.dist_info_prefix, self.scripts_prefix))
            or (m not in self.outside and ("/" not in path or path.endswith(".pth")))
        }
        for module in entry_point_modules(self.listing.entry_points):
            keep.update(self.members_of(module))
        return keep

    def needs(self, member: str, *, elf: bool = True, satisfied: Collection[str] = ()) -> list[str]:
        """What keeping ``member`` requires: its ``__init__`` chain and ELF dependencies.

        Sonames in ``satisfied`` are left out: the trace saw them mapped.
        """
        out: list[str] = []
        parts = self.installed[member].split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            out.extend(self.inits.get("/".join(parts[:depth]), ()))
        if not elf or member not in self.listing.needed:
            return out
        for soname in self.listing.needed[member]:
            if soname in satisfied:
                continue
            if soname not in self._sonames:
                self._sonames[soname] = _resolve_soname(soname, self.by_basename)
            out.extend(self._sonames[soname])
        return out

    def is_code(self, member: str) -> bool:
        return member in self.module_of or member in self.listing.needed

    def category(self, member: str) -> str | None:
        """The safe category of ``member`` (a name in SAFE_CATEGORIES), or None."""
        if member.startswith((self.dist_info_prefix, self.scripts_prefix)):
            return None
        parts = self.installed[member].split("/")
        dirs, base = set(parts[:-1]), parts[-1]
        suffix, code = _suffix(base), self.is_code(member)
        if dirs & {"tests", "test"}:
            return "tests"
        if suffix in (".a", ".lib") and not code:
            return "static-libraries"
        if suffix == ".pyi" and module_name(self.installed[member][:-1]) in self.modules:
            return "type-stubs"
        if (dirs & {"doc", "docs"} and not code) or (
            suffix in (".md", ".rst") and len(parts) > 1 and base.upper().startswith(_DOC_STEMS)
        ):
            return "docs"
        if self.build_tool:
            return None
        if suffix == ".cmake" or base == "CMakeLists.txt" or ("cmake" in dirs and not code):
            return "cmake"
        headers = suffix in _HEADER_SUFFIXES or ("include" in dirs and not code)
        if headers and self.compiled_source is None and suffix != ".pyi":
            return "headers"
        return None


def _installed_path(member: str, data_prefix: str) -> str:
    if member.startswith(data_prefix):
        kind, _, inner = member[len(data_prefix) :].partition("/")
        if kind in ("purelib", "platlib") and inner:
            return inner
    return member


# -- phase 2: the files of one fetched wheel ---------------------------------------


def plan_wheel(
    preliminary: DistributionPlan,
    listing: WheelListing,
    usage: Sequence[DistributionUsage],
    policy: Policy,
    *,
    mapped: Collection[str] = (),
) -> DistributionPlan:
    """Refine a ``strip`` candidate from ``decide`` once its wheel is listed.

    ``mapped`` holds the file names of the shared libraries the profile saw loaded, in
    any distribution: a library this profile saw loaded needs no copy of a soname the
    loader was seen to take from elsewhere (numpy.libs and scipy.libs ship the same
    libgfortran; scipy's openblas is served numpy's, already mapped).

    ``usage`` holds the profile's entries for this distribution (any version). With
    the ``profile`` policy and an entry at this very version, everything the profile
    did not use is dropped, within the safety rules; otherwise only the safe categories
    are, and never a file or module the profile saw. Nothing to drop makes it ``keep``.
    """
    total = sum(listing.members.values())
    if preliminary.decision != "strip":
        return _unstripped(preliminary, listing, total)
    contents = _Contents(listing, preliminary.name)
    usages = [u for u in usage if u.name == preliminary.name]
    exact = [
        u for u in usages if policy == "profile" and _same_version(u.version, preliminary.version)
    ]
    if exact:
        roots, probed_modules = _profile_roots(contents, exact)
    else:
        roots = {m for m in listing.members if contents.category(m) is None}
        probed_modules = set()
    roots |= contents.always_kept() | _protected(contents, usages, exact)
    loaded = {m for u in exact for p in u.files for m in contents.lookup(p)}
    keep = _close(contents, roots, probed_modules, loaded=loaded, mapped=mapped)
    drop = [m for m in listing.members if m not in keep]
    stubs = _stubs(contents, drop, keep, probed_modules)
    others = [u for u in usages if u not in exact]
    notes = _version_notes(preliminary, others, bool(exact), policy)
    if not exact:
        notes += _category_notes(contents, drop)
    reason = _strip_reason(contents, keep, total, policy, exact=bool(exact), seen=bool(usages))
    return replace(
        preliminary,
        bytecode=_imported_sources(contents, keep, exact) if exact and drop else None,
        decision="strip" if drop else "keep",
        reason=reason if drop else f"nothing to drop ({reason})",
        drop=tuple(drop),
        stub_modules=tuple(stubs),
        notes=preliminary.notes + tuple(notes),
        bytes_installed=total,
        bytes_saved=sum(listing.members[m] for m in drop),
    )


def _imported_sources(
    contents: _Contents, keep: set[str], exact: Sequence[DistributionUsage]
) -> tuple[str, ...]:
    """Kept sources whose bytecode the profile saw loaded: only those are compiled.

    A source read as text but never imported (transformers reads every model's source to
    build its lazy import table) needs no bytecode: 43 MB of it in the transformers case.
    """
    imported = {source_of_pyc(p) for u in exact for p in u.files if p.endswith(".pyc")}
    kept = {contents.installed[m] for m in keep}
    return tuple(sorted(p for p in imported if p is not None and p in kept))


def _unstripped(
    preliminary: DistributionPlan, listing: WheelListing, total: int
) -> DistributionPlan:
    """Sizes for a plan that is not a strip: kept whole, stubbed (metadata stays), omitted."""
    if preliminary.decision == "keep":
        return replace(preliminary, bytes_installed=total, bytes_saved=0)
    metadata = sum(
        size for m, size in listing.members.items() if m.startswith(listing.dist_info + "/")
    )
    saved = total - metadata if preliminary.decision == "stub" else total
    return replace(preliminary, bytes_installed=total, bytes_saved=saved)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _profile_roots(
    contents: _Contents, exact: Sequence[DistributionUsage]
) -> tuple[set[str], set[str]]:
    """What a same-version profile keeps (loaded files, probed non-modules) and probed modules.

    Files outside site-packages (``.data/data``, ``.data/headers``) are invisible to a
    profile: only the safe categories are dropped there.
    """
    keep = {m for m in contents.outside if contents.category(m) is None}
    probed_modules: set[str] = set()
    for usage in exact:
        for path in usage.files:
            keep.update(contents.lookup(path))
        for path in usage.probed:
            for member in contents.lookup(path):
                (probed_modules if member in contents.module_of else keep).add(member)
    return keep, probed_modules - keep


def _protected(
    contents: _Contents, usages: Sequence[DistributionUsage], exact: Sequence[DistributionUsage]
) -> set[str]:
    """Files the profile saw, by path and by module name, in any version it was made on.

    Probed modules of a same-version profile are left out: they become stubs.
    """
    keep: set[str] = set()
    for usage in usages:
        paths = usage.files if usage in exact else (*usage.files, *usage.probed)
        for path in paths:
            keep.update(contents.lookup(path))
            module = _profile_module(path)
            if module is not None:
                keep.update(contents.members_of(module))
    return keep


def _close(
    contents: _Contents,
    roots: set[str],
    probed_modules: set[str],
    *,
    loaded: Collection[str] = (),
    mapped: Collection[str] = (),
) -> set[str]:
    """Add the ``__init__`` chains and ELF ``DT_NEEDED`` closure of everything kept.

    Probed modules (stubbed, not kept) get their ``__init__`` chain kept too, so the
    stub stands where the probe looked. When every shared library is kept anyway there
    is no ELF walk: reading DT_NEEDED means inflating the library (434 MB for
    libtorch_cpu.so). For a ``loaded`` library, needed sonames the trace saw ``mapped``
    were provably served by the loader; any other need is resolved in the wheel.
    """
    keep = set(roots)
    droppable_elf = any(m not in keep for m in contents.listing.needed)
    todo = [*keep, *probed_modules]
    while todo:
        member = todo.pop()
        proven = mapped if member in loaded else ()
        for dep in contents.needs(member, elf=droppable_elf, satisfied=proven):
            if dep not in keep:
                keep.add(dep)
                todo.append(dep)
    return keep


def _stubs(
    contents: _Contents, drop: Sequence[str], keep: set[str], probed_modules: set[str]
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


def _package_kept(contents: _Contents, package: str, keep: set[str], kept_dirs: set[str]) -> bool:
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


def _version_notes(
    preliminary: DistributionPlan, others: Sequence[DistributionUsage], exact: bool, policy: Policy
) -> list[str]:
    if not others or policy != "profile":
        return []
    versions = ", ".join(sorted({u.version for u in others}))
    if exact:
        return [f"the profile also saw {preliminary.name} {versions}: modules used there are kept"]
    return [
        f"profile made on {preliminary.name} {versions}: applied by module names; "
        "files it knows nothing about are kept"
    ]


def _category_notes(contents: _Contents, drop: Sequence[str]) -> list[str]:
    sizes: dict[str, list[int]] = {}
    for member in drop:
        category = contents.category(member) or "other"
        sizes.setdefault(category, []).append(contents.listing.members[member])
    notes = [
        f"dropped {name}: {_mb(sum(s))} in {len(s)} files" for name, s in sorted(sizes.items())
    ]
    if contents.compiled_source is not None:
        notes.append(
            f"C/C++ headers kept: it ships C/C++ sources ({contents.compiled_source}) "
            "it may compile at run time"
        )
    if contents.build_tool:
        notes.append("headers and CMake files kept: a build tool")
    return notes


def _strip_reason(
    contents: _Contents, keep: set[str], total: int, policy: Policy, *, exact: bool, seen: bool
) -> str:
    if exact:
        kept = sum(contents.listing.members[m] for m in keep)
        return (
            f"the profile used it: keeps {len(keep)} of {len(contents.listing.members)} files "
            f"({_mb(kept)} of {_mb(total)})"
        )
    if policy == "safe":
        return "safe policy: drops only files a program does not run"
    if seen:
        return "profile made on another version: drops only files a program does not run"
    return "the profile has no entry for it: drops only files a program does not run"


# -- phase 1: decisions from metadata ------------------------------------------------


def decide(
    resolution: Resolution,
    profile: Profile | None,
    policy: Policy,
    *,
    profile_label: str = "",
) -> dict[NormalizedName, DistributionPlan]:
    """The preliminary plan of every resolved distribution, from metadata only.

    ``profile`` policy: a distribution the profile used (at any version) is a ``strip``
    candidate; one it never used is a ``stub``, or ``omit`` when only extras need it
    (requested distributions are never omitted). ``safe`` policy: every wheel is a
    ``strip`` candidate. Sdists are kept (stubbed or omitted if unused: neither needs
    their files). ``plan_wheel`` refines each ``strip`` once the wheel is fetched.
    """
    if policy == "profile" and profile is None:
        raise PlanError(
            "the profile policy needs a usage profile",
            hint="pass a profile made with `lean-install trace`, or use the safe policy",
        )
    base = _needed_by(resolution, user_extras=False)
    everything = _needed_by(resolution, user_extras=True)
    plans: dict[NormalizedName, DistributionPlan] = {}
    for dist in resolution.distributions:
        usages = profile.find(dist.name) if profile is not None else []
        extras_only = not dist.requested and dist.name not in base
        decision, reason, stubs = _decide_one(dist, usages, policy, extras_only)
        if decision == "omit":
            reason += f" ({', '.join(sorted(everything.get(dist.name, ())))})"
        plans[dist.name] = DistributionPlan(
            name=dist.name,
            version=dist.version,
            decision=decision,
            reason=reason,
            stub_modules=stubs,
            profile_label=profile_label,
            profile_digest=_usage_digest(usages),
        )
    return plans


def _decide_one(
    dist: ResolvedDistribution,
    usages: Sequence[DistributionUsage],
    policy: Policy,
    extras_only: bool,
) -> tuple[Decision, str, tuple[str, ...]]:
    used = any(u.used for u in usages)
    if policy == "profile" and not used:
        if extras_only:
            return "omit", "the profile never used it and only extras need it", ()
        if not _probed_files(usages):
            return "stub", "the profile never used it", _stub_names(dist, usages)
    if not dist.is_wheel:
        return "keep", f"not a wheel ({dist.filename}): lean-install strips wheels only", ()
    if policy == "safe":
        return "strip", "safe policy: drops only files a program does not run", ()
    if used:
        return "strip", "the profile used it", ()
    return "strip", "the profile only probed it: probed files stay, its modules are stubbed", ()


def _probed_files(usages: Sequence[DistributionUsage]) -> bool:
    """Whether the profile probed files of it other than modules and metadata."""
    return any(
        _profile_module(path) is None and ".dist-info/" not in path
        for usage in usages
        for path in usage.probed
    )


def _stub_names(dist: ResolvedDistribution, usages: Sequence[DistributionUsage]) -> tuple[str, ...]:
    """Top-level modules to stub, from what the profile saw; else the name, ``-`` -> ``_``
    (a guess that ``install.prepare`` replaces with ``top_level_modules`` of the wheel).

    A module whose parents the profile never saw is taken whole (``google.protobuf``
    when only ``google/protobuf/__init__.py`` was seen: ``google`` may be a namespace).
    """
    seen = {
        module
        for usage in usages
        for path in (*usage.files, *usage.probed)
        if (module := _profile_module(path)) is not None
    }
    names = set()
    for module in seen:
        parts = module.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        names.add(next(p for p in prefixes if p in seen))
    return tuple(sorted(names)) or (dist.name.replace("-", "_"),)


def top_level_modules(names: Iterable[str]) -> tuple[str, ...]:
    """The modules a stub distribution stands for, from its wheel's member names.

    Top-level modules and packages (``yaml`` for PyYAML, ``sklearn`` for scikit-learn);
    for a namespace directory (no ``__init__.py``: ``google``), the packages inside it
    (``google.protobuf``), so that a stub never takes a namespace shared with others.
    ``.dist-info`` and ``.data`` are left out.
    """
    files = {name for name in names if not name.endswith("/")}
    found: set[str] = set()
    for name in files:
        head = name.split("/", 1)[0]
        if head.endswith((".dist-info", ".data")):
            continue
        found.add(_topmost_package(name, files))
    return tuple(sorted(m for m in found if m and all(p.isidentifier() for p in m.split("."))))


def _topmost_package(name: str, files: set[str]) -> str:
    """The outermost regular package (or top-level module) that ``name`` belongs to."""
    parts = name.split("/")
    if len(parts) == 1:
        return parts[0].split(".", 1)[0] if parts[0].endswith(_MODULE_FILES) else ""
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) + "/__init__.py" in files:
            return ".".join(parts[:depth])
    return ""  # files of a namespace with no package inside: nothing to stand for


_MODULE_FILES = (".py", ".so", ".pyd")


def _needed_by(resolution: Resolution, *, user_extras: bool) -> dict[NormalizedName, set[str]]:
    """Distributions reachable from the requested ones, each with what requires it.

    Extras that a requirement names (``b[fast]``) are followed: the requirer needs them.
    Extras the user asked for (``pip install a[x]``) only when ``user_extras``.
    """
    by_name = {d.name: d for d in resolution.distributions}
    needed: dict[NormalizedName, set[str]] = {}
    todo: list[tuple[NormalizedName, str]] = []
    for dist in resolution.distributions:
        if dist.requested:
            needed.setdefault(dist.name, set()).add("requested")
            extras = dist.requested_extras if user_extras else ()
            todo += [(dist.name, ""), *((dist.name, canonicalize_name(e)) for e in extras)]
    done: set[tuple[NormalizedName, str]] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in done or name not in by_name:
            continue
        done.add((name, extra))
        for req in _requirements(by_name[name], resolution.marker_environment, extra):
            dep = canonicalize_name(req.name)
            needed.setdefault(dep, set()).add(f"{name}[{extra}]" if extra else name)
            todo += [(dep, ""), *((dep, canonicalize_name(e)) for e in req.extras)]
    return needed


def _requirements(
    dist: ResolvedDistribution, environment: Mapping[str, str], extra: str
) -> list[Requirement]:
    """The requirements of ``dist`` that apply with ``extra`` active ("" for none)."""
    out = []
    for text in dist.requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # pip resolved with this metadata: it cannot be invalid
        if req.marker is None:
            out.append(req)
            continue
        try:
            applies = req.marker.evaluate({**environment, "extra": extra})
        except (UndefinedComparison, UndefinedEnvironmentName):
            applies = True  # cannot tell: count it as needed
        if applies:
            out.append(req)
    return out


def _usage_digest(usages: Sequence[DistributionUsage]) -> str:
    """Digest of what the profile used of one distribution: other entries do not change it."""
    if not usages:
        return ""
    canon = json.dumps([u.to_dict() for u in usages], sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]
