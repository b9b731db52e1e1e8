"""The strip plan of a conda prefix: per conda package, which files go and which stubs come.

What a package keeps for its own sake (``Rule``) is decided by the rules a wheel is
planned by (``lean_install.rules``), applied by the same function to the package's files
(``PackageFiles``: prefix paths, which is how a conda profile writes them):

- ``exact``: the profile has this package at this version (and build, when it says one):
  every file it loaded stays, a module it only probed becomes a stub, files it never used
  go;
- ``listing``: the profile saw other versions only, and recorded their files (a profile
  records every used package's listing): the files new in this version stay, the files
  those versions had and the workload never used go;
- ``modules``: the profile saw other versions only, without a listing: only what no
  program needs goes (tests, headers, static libraries, ... as the shared classifier says),
  never a file or module the profile saw;
- ``safe`` (the safe policy, with or without a profile): only what no program needs goes,
  never a file the profile saw;
- ``unused``: the profile has no entry for it: its files go (the pip side's ``stub``
  decision, file by file).

And, before those, the rules only a prefix has:

- ``interpreter`` (the ``python`` package), ``no-reserve`` (its package is not in the
  package cache, so nothing removed could come back) and ``already-lean`` (stripped
  before: restore it first to strip it again) keep everything; so does ``untouched``: a
  package the conda transaction that asked for the plan did not install (the
  post-transaction action strips only what conda just linked).

Always kept: metadata (``*.dist-info``, ``*.egg-info``), ``bin/``, ``etc/`` (conda's
``activate.d`` scripts run outside any trace), ``.pth`` files, directories conda made.

Then the closure, across packages, as the loader and the import system need it: a kept
ELF file (a shared library, an extension module, a program in ``bin/``) keeps every
library its ``DT_NEEDED`` entries resolve to in the prefix (``dynlib``: through its
``RUNPATH`` with ``$ORIGIN`` expanded, else by file name, as ``$PREFIX/lib`` is searched);
a kept symlink keeps what it points to; a kept file in a Python package keeps the
``__init__.py`` of every package above it.

A kept shared library of a package that is stripped (``exact``, ``listing``, ``modules``,
``safe``, ``unused``) can be rewritten smaller inside (``library.shrink``: symbol tables,
GPU code for other architectures): ``library_candidates`` lists them; ``conda.strip``
reads each and fills ``PackagePlan.rewrites`` with what it would write. Files conda
wrote a prefix into (placeholders) and links stay as they are.

A removed Python module gets a stub (``lean_install.stubs``) where its parent package is
still there: importing it brings the module back from the package cache (the prefix's
on-miss mode, ``runtime.conda_reserve``) or raises the clear ``ModuleNotFoundError`` that
names the package and the command that brings it back.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from packaging.utils import canonicalize_name

from lean_install import library, rules, stubs
from lean_install.classify import Classifier
from lean_install.conda.attribution import PrefixIndex
from lean_install.conda.records import PrefixRecord
from lean_install.plan import Policy
from lean_install.profile import DistributionUsage, Profile
from lean_install.runtime import dynlib, layout

__all__ = [
    "Rule",
    "INTERPRETERS",
    "Stub",
    "PackagePlan",
    "Rewrite",
    "library_candidates",
    "StripPlan",
    "plan_strip",
    "restore_command",
    "config_command",
    "stub_text",
    "stub_for",
]

Rule = Literal[
    "exact",
    "listing",
    "safe",
    "modules",
    "unused",
    "interpreter",
    "no-reserve",
    "already-lean",
    "untouched",
]
_STRIPPED_RULES: frozenset[Rule] = frozenset({"exact", "listing", "safe", "modules", "unused"})
INTERPRETERS = frozenset({"python", "pypy", "pypy3"})
"""Packages kept whole: the interpreter the prefix runs (and conda runs there)."""

_SITE_PACKAGES = re.compile(r"^(lib/python\d+\.\d+t?/site-packages)/(.+)$")
_METADATA_DIR = re.compile(r"\.(dist-info|egg-info)(/|$)")
_ALWAYS_KEPT_DIRS = ("bin/", "etc/")


@dataclass(frozen=True, kw_only=True)
class Stub:
    """A stub a strip writes: where (prefix-relative), for which module, what it says."""

    path: str
    module: str
    text: str

    @property
    def data(self) -> bytes:
        return self.text.encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Rewrite:
    """A kept library a strip writes again, smaller inside: the result's sha256 and size,
    and what went."""

    sha256: str
    size: int
    symbol_bytes: int = 0
    fatbin_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class PackagePlan:
    """What a strip does to one conda package."""

    record: PrefixRecord
    rule: Rule
    reason: str
    remove: tuple[str, ...] = ()
    """Prefix-relative files that go (a stub may then stand at the same path)."""
    stubs: tuple[Stub, ...] = ()
    bytes_removed: int = 0
    rewrites: Mapping[str, Rewrite] = field(default_factory=dict)
    """Kept libraries written again smaller inside (``conda.strip`` fills it)."""

    @property
    def changes(self) -> bool:
        return bool(self.remove or self.stubs or self.rewrites)

    @property
    def bytes_saved(self) -> int:
        """Bytes the strip frees: files removed, symbols stripped, GPU code zeroed."""
        inside = sum(r.symbol_bytes + r.fatbin_bytes for r in self.rewrites.values())
        return self.bytes_removed + inside

    def describe(self) -> str:
        r = self.record
        head = f"{r.name} {r.version} ({r.build})"
        if not self.changes:
            return f"{head}: keep ({self.reason})"
        stubs_said = f", {len(self.stubs)} stub{'s' if len(self.stubs) != 1 else ''}"
        return (
            f"{head}: strip ({self.reason}): removes {len(self.remove)} of {len(r.files)} "
            f"files ({self.bytes_removed:,} bytes){stubs_said if self.stubs else ''}"
            f"{self._rewrites_said()}"
        )

    def _rewrites_said(self) -> str:
        if not self.rewrites:
            return ""
        symbols = sum(r.symbol_bytes for r in self.rewrites.values())
        gpu = sum(r.fatbin_bytes for r in self.rewrites.values())
        said = [f"{symbols:,} bytes of symbols"] if symbols else []
        said += [f"{gpu:,} bytes of GPU code"] if gpu else []
        n = len(self.rewrites)
        return f"; {n} librar{'ies' if n != 1 else 'y'} smaller by {' and '.join(said)}"


@dataclass(frozen=True, kw_only=True)
class StripPlan:
    prefix: Path
    profile: str
    packages: tuple[PackagePlan, ...]
    symbols: bool = False
    """Whether the kept libraries' ``rewrites`` strip symbols (``conda.strip``)."""
    gpu_archs: tuple[int, ...] = ()
    """The GPU architectures the kept libraries' fatbins keep code for (none: all)."""

    @property
    def changed(self) -> tuple[PackagePlan, ...]:
        return tuple(p for p in self.packages if p.changes)

    def describe(self) -> list[str]:
        total = sum(p.bytes_saved for p in self.packages)
        lines = [p.describe() for p in self.packages]
        lines.append(f"{len(self.changed)} package(s) to strip, {total:,} bytes to remove")
        return lines


def restore_command(prefix: str | os.PathLike[str], name: str) -> str:
    return f"conda lean restore -p {os.fspath(prefix)} {name}"


# -- what each package keeps for its own sake ----------------------------------------------


class PackageFiles:
    """A conda package's files as the rules see them (``rules.Files``): a member is a
    prefix path, which is also how a profile writes it; module files are those under
    ``lib/pythonX.Y/site-packages``; every file is in the prefix a trace sees."""

    outside: frozenset[str] = frozenset()

    def __init__(self, record: PrefixRecord) -> None:
        self.record = record
        self.installed = {p: p for p in record.files}
        self.module_of = {
            p: m
            for p in record.files
            if _METADATA_DIR.search(p) is None and (m := _module(p)) is not None
        }
        self._modules: dict[str, list[str]] = {}
        for path, module in self.module_of.items():
            self._modules.setdefault(module, []).append(path)

    def lookup(self, path: str) -> list[str]:
        candidates = (path, layout.source_of_bytecode(path))
        return [p for p in candidates if p is not None and p in self.installed]

    def members_of(self, module: str) -> list[str]:
        return self._modules.get(module, [])

    def module_at(self, path: str) -> str | None:
        return _module(path)

    @functools.cached_property
    def _classifier(self) -> Classifier:
        """The shared classifier, on paths as seen from site-packages where they are there
        (built when a rule asks: an ``unused`` package needs none)."""
        files = self.record.files
        return Classifier(self.record.name, (_site_relative(p) or p for p in files), "")

    def removable(self, member: str) -> bool:
        return self._classifier.removable(_site_relative(member) or member)

    def always_kept(self) -> set[str]:
        return {p for p in self.record.files if _always_kept(self.record, p)}


def _usages(
    profile: Profile | None, record: PrefixRecord, policy: Policy
) -> tuple[list[DistributionUsage], list[DistributionUsage]]:
    """The profile's conda usages of ``record``'s package: of this very version (and
    build), and of others; under the safe policy, none is exact."""
    name = canonicalize_name(record.name)
    found = [
        d
        for d in (profile.distributions if profile else ())
        if d.kind == "conda" and d.name == name
    ]
    exact = [
        d
        for d in found
        if policy == "profile" and d.version == record.version and d.build in ("", record.build)
    ]
    return exact, [d for d in found if d not in exact]


def _has_reserve(record: PrefixRecord) -> bool:
    extracted = record.extracted_package_dir
    tarball = record.package_tarball_full_path
    return bool(extracted and Path(extracted).is_dir()) or bool(tarball and Path(tarball).is_file())


@dataclass
class _Roots:
    rule: Rule
    why: str
    keep: set[str]
    probed_modules: set[str] = field(default_factory=set)


def _roots(record: PrefixRecord, profile: Profile | None, policy: Policy) -> _Roots:
    """The rule for ``record``, why, and the files it keeps for its own sake: the
    ``rules`` of the pip side, after the rules only a prefix has."""
    files = set(record.files)
    if record.name in INTERPRETERS:
        return _Roots("interpreter", "the interpreter of the prefix", files)
    if not _has_reserve(record):
        return _Roots(
            "no-reserve", "its package is not in the package cache to restore from", files
        )
    view = PackageFiles(record)
    exact, others = _usages(profile, record, policy)
    if policy != "safe" and not exact and not others:
        return _Roots("unused", "the profile never used it", view.always_kept())
    kept = rules.roots(view, exact, others, policy)
    rule = cast(Rule, kept.rule)  # rules.roots gives exact, listing, modules or safe
    versions = ", ".join(sorted({u.version for u in others}))
    why = {
        "exact": "the profile used it",
        "safe": "safe policy: drops only files a program does not run",
        "listing": f"profile made on version {versions}: files new in {record.version} "
        f"stay, files {versions} had and never used go",
        "modules": f"profile made on version {versions}: drops only files a program does not run",
    }[rule]
    return _Roots(rule, why, kept.keep, kept.probed_modules)


def _site_relative(path: str) -> str | None:
    match = _SITE_PACKAGES.match(path)
    return match.group(2) if match else None


def _always_kept(record: PrefixRecord, path: str) -> bool:
    entry = record.entries.get(path)
    return (
        path.startswith(_ALWAYS_KEPT_DIRS)
        or _METADATA_DIR.search(path) is not None
        or path.endswith(".pth")
        or (entry is not None and entry.path_type == "directory")
    )


def _module(path: str) -> str | None:
    site = _site_relative(path)
    return None if site is None else layout.module_name(site)


# -- the closure, across packages -----------------------------------------------------------


def _is_elf_candidate(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return (
        dynlib.is_shared_object_name(base)
        or layout.is_extension_module(base)
        or path.startswith(("bin/", "libexec/"))
    )


@dataclass
class _Tree:
    """The files of every record of a prefix, for the closure."""

    prefix: Path
    owner: Mapping[str, PrefixRecord]
    libraries: dynlib.Libraries = field(init=False)

    bytecode: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.libraries = dynlib.Libraries(self.owner)
        self.bytecode = {}
        for path in self.owner:
            source = layout.source_of_bytecode(path) if "__pycache__/" in path else None
            if source is not None:
                self.bytecode.setdefault(source, []).append(path)

    def needs(self, path: str) -> list[str]:
        """What keeping ``path`` keeps too: libraries, a link's target, ``__init__`` chain."""
        found = self.init_chain(path) + self.bytecode.get(path, [])
        full = self.prefix / path
        if full.is_symlink():
            target = os.path.relpath(os.path.realpath(full), os.path.realpath(self.prefix))
            if target in self.owner:
                found.append(target)
        if _is_elf_candidate(path):
            found += self._libraries(path, full)
        return found

    def init_chain(self, path: str) -> list[str]:
        """The ``__init__.py`` of every package ``path`` sits in."""
        match = _SITE_PACKAGES.match(path)
        if not match:
            return []
        root, parts = match.group(1), match.group(2).split("/")[:-1]
        chain = [f"{root}/{'/'.join(parts[:i])}/__init__.py" for i in range(1, len(parts) + 1)]
        return [p for p in chain if p in self.owner]

    def _libraries(self, path: str, full: Path) -> list[str]:
        try:
            with full.open("rb") as file:
                if file.read(4) != dynlib.ELF_MAGIC:
                    return []
                info = dynlib.read_dynamic(file)
        except OSError:
            return []
        return [p for soname in info.needed for p in self.libraries.resolve(soname, path, info)]


# -- stubs ------------------------------------------------------------------------------------


def stub_text(
    record: PrefixRecord, path: str, module: str, profile: str, way_back: str = ""
) -> str:
    """The stub at ``path`` (prefix-relative) of ``module``: lean_install.stubs' conda stub,
    telling conda's way back (``way_back``, default: ``conda lean restore -p PREFIX NAME``,
    and how to have removed code come back when imported: ``conda lean config``)."""
    if way_back:
        lines: tuple[str, ...] = (f"To bring it back: {way_back}",)
    else:
        lines = (
            f"To bring it back: {restore_command(record.prefix, record.name)}",
            "To have removed code come back when imported: "
            f"{config_command(record.prefix, 'restore')}",
        )
    return stubs.conda_module_stub(
        module, record.name, record.version, profile, path=path, stem=record.stem, way_back=lines
    )


def config_command(prefix: str | os.PathLike[str], mode: str) -> str:
    return f"conda lean config -p {os.fspath(prefix)} on-miss {mode}"


def _stubs(
    record: PrefixRecord,
    remove: Sequence[str],
    kept: set[str],
    profile: str,
    probed: Collection[str] = (),
) -> tuple[Stub, ...]:
    """Stubs for the removed modules whose parent package is still there (topmost only),
    and for the modules the profile only probed (``probed``: their files), where the
    probe looked."""
    probed_modules = {m for p in probed if (m := _module(p)) is not None}
    kept_dirs = {p[:i] for p in kept for i in range(len(p)) if p[i] == "/"}
    modules: dict[str, tuple[str, bool]] = {}
    for path in remove:
        match = _SITE_PACKAGES.match(path)
        if not match or path.endswith((".pyc", ".pyo")):
            continue
        relative = match.group(2)
        module = layout.module_name(relative)
        if module is not None:
            package = relative.endswith("/__init__.py")
            stub = f"{match.group(1)}/{stubs.stub_path(module, package=package)}"
            modules.setdefault(module, (stub, package))
    defined = {m for p in kept if (r := _site_relative(p)) and (m := layout.module_name(r))}
    made: list[Stub] = []
    for module in sorted(modules, key=lambda m: (m.count("."), m)):
        stub, package = modules[module]
        parent = stub.rsplit("/", 2 if package else 1)[0]
        hidden = module.count(".") and parent not in kept_dirs and module not in probed_modules
        if module in defined or hidden:
            continue
        text = stub_text(record, stub, module, profile)
        made.append(Stub(path=stub, module=module, text=text))
    return tuple(made)


def stub_for(record: PrefixRecord, path: str, profile: str, way_back: str = "") -> Stub | None:
    """The stub at ``path`` (prefix-relative, as a plan or manifest names it) with another
    ``way_back``; None when ``path`` is no module of a site-packages directory."""
    relative = _site_relative(path)
    module = layout.module_name(relative) if relative else None
    if module is None:
        return None
    text = stub_text(record, path, module, profile, way_back)
    return Stub(path=path, module=module, text=text)


# -- the plan --------------------------------------------------------------------------------


def library_candidates(package: PackagePlan) -> tuple[str, ...]:
    """The kept shared libraries of ``package`` a strip may write again smaller: plain
    files conda linked from the package as they are (no prefix placeholder, a sha256 to
    check them by), in a package the plan strips."""
    if package.rule not in _STRIPPED_RULES:
        return ()
    removed = set(package.remove)
    entries = package.record.entries
    return tuple(
        p
        for p in package.record.files
        if p not in removed
        and library.is_candidate(p)
        and (entry := entries.get(p)) is not None
        and entry.path_type == "hardlink"
        and not entry.prefix_placeholder
        and entry.sha256_on_disk
    )


def _size(record: PrefixRecord, prefix: Path, path: str) -> int:
    entry = record.entries.get(path)
    if entry is not None and entry.size_in_bytes is not None:
        return entry.size_in_bytes
    try:
        return (prefix / path).lstat().st_size
    except OSError:
        return 0


def plan_strip(
    index: PrefixIndex,
    profile: Profile | None,
    profile_label: str = "",
    *,
    policy: Policy = "profile",
    lean: Iterable[str] = (),
    only: Collection[str] | None = None,
) -> StripPlan:
    """The plan for ``index``'s prefix under ``profile`` (None: the safe policy only) and
    ``policy``; ``lean``: stems already stripped; ``only``: the stems that may be stripped
    (None: all; the others are ``untouched``)."""
    prefix = Path(index.prefix)
    already = set(lean)
    tree = _Tree(prefix, {p: r for r in index.records for p in r.files})
    planned: dict[str, _Roots] = {}
    roots: set[str] = set()
    for record in index.records:
        if record.stem in already:
            own = _Roots(
                "already-lean", "stripped before: restore it to strip it again", set(record.files)
            )
        elif only is not None and record.stem not in only:
            own = _Roots("untouched", "not installed by this conda transaction", set(record.files))
        else:
            own = _roots(record, profile, policy)
        planned[record.stem] = own
        roots |= own.keep
        for path in own.probed_modules:  # the stub stands where the probe looked
            roots.update(tree.init_chain(path))
    kept = dynlib.closure(roots, tree.needs)
    packages = []
    for record in index.records:
        own = planned[record.stem]
        rule, why = own.rule, own.why
        remove = tuple(p for p in record.files if p not in kept)
        made = _stubs(record, remove, kept, profile_label, own.probed_modules)
        if rule in _STRIPPED_RULES and remove:
            closure = [p for p in record.files if p in kept and p not in roots]
            if closure:
                why += f"; {len(closure)} file(s) kept because kept files need them"
        size = sum(_size(record, prefix, p) for p in remove)
        packages.append(
            PackagePlan(
                record=record,
                rule=rule,
                reason=why,
                remove=remove,
                stubs=made,
                bytes_removed=size,
            )
        )
    return StripPlan(prefix=prefix, profile=profile_label, packages=tuple(packages))
