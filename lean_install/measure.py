"""Measuring an environment on disk into a ``Report`` (``build_report``).

Sizes are read from the disk, never from RECORD: a file counts with its ``os.lstat`` size
(regular files and symbolic links; a symlink counts its own size, not its target's). The
report covers every file any RECORD claims (inside or outside site-packages, such as
``../../../bin/tool``) and every file under a site-packages directory that no distribution
claims (*unowned*), each file once. So the report's total is, to the byte, the sum of the
sizes of the files under site-packages plus the installed files outside it.

``lean_install.conda.report`` measures a conda prefix with the same pieces:
``measure_files`` (one owner's files), ``measure_distribution`` (one installed wheel),
``measure_unowned``, ``used_of`` / ``used_by`` (what a profile used) and ``removal_of``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from lean_install.classify import CATEGORIES, Category, Classifier
from lean_install.plan import original_version
from lean_install.report import (
    CategoryUsage,
    DistributionReport,
    Removal,
    Report,
    ReportEnvironment,
    Unowned,
)
from lean_install.runtime import layout
from lean_install.runtime.records import Manifest

if TYPE_CHECKING:
    from lean_install.environment import Environment, InstalledDistribution
    from lean_install.profile import DistributionUsage, Profile

__all__ = [
    "Used",
    "build_report",
    "measure_distribution",
    "measure_files",
    "measure_unowned",
    "removal_of",
    "used_by",
    "used_of",
]

_METADATA_DIRS = (".dist-info", ".egg-info")


class _Tally:
    """Mutable counts while one distribution (or the unowned files) is measured."""

    def __init__(self) -> None:
        self.categories: dict[Category, CategoryUsage] = {}
        self.missing = 0

    def add(self, category: Category, size: int, used: bool) -> None:
        one = CategoryUsage(1, size, int(used), size if used else 0)
        self.categories[category] = self.categories.get(category, CategoryUsage()) + one

    def total(self) -> CategoryUsage:
        return sum(self.categories.values(), CategoryUsage())

    def ordered(self) -> dict[Category, CategoryUsage]:
        return {c: self.categories[c] for c in CATEGORIES if c in self.categories}


@dataclass(frozen=True)
class Used:
    """What a profile says one distribution used, as RECORD paths (a conda package's:
    prefix-relative paths, as its record's ``files``)."""

    paths: frozenset[str] = frozenset()
    scripts: frozenset[str] = frozenset()
    profile_version: str | None = None

    def covers(self, record_path: str) -> bool:
        if record_path in self.paths:
            return True
        outside = record_path.startswith(("../", "/"))
        return outside and record_path.rsplit("/", 1)[-1] in self.scripts


def _same_version(a: str, b: str) -> bool:
    """Equal versions; a lean install's ``+lean.<digest>`` label does not count."""
    a, b = original_version(a), original_version(b)
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def used_of(chosen: Sequence[DistributionUsage], exact: bool) -> Used:
    """What the profile entries ``chosen`` used: their loaded and probed files, the source
    of each listed ``.pyc``, the scripts they ran; ``exact``: whether they are at the
    installed version (if not, ``profile_version`` names theirs)."""
    paths = {p for e in chosen for p in (*e.files, *e.probed)}
    paths |= {s for p in paths if (s := layout.source_of_bytecode(p)) is not None}
    scripts = {s.rstrip("/").rsplit("/", 1)[-1] for e in chosen for s in e.scripts}
    other = None if exact or not chosen else ", ".join(e.version for e in chosen)
    return Used(frozenset(paths), frozenset(scripts), other)


def used_by(profile: Profile, name: str, version: str) -> Used:
    """The profile's usage of ``name``: its entry at ``version``, else every entry it has."""
    entries: list[DistributionUsage] = profile.find(name)
    exact = [e for e in entries if _same_version(e.version, version)]
    return used_of(exact or entries, bool(exact))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _countable(st: os.stat_result) -> bool:
    """Regular files and symlinks count; directories, sockets and fifos do not."""
    return stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)


def _walk_files(top: str, exclude: Collection[str] = ()) -> Iterator[str]:
    """Every regular file and symlink under ``top`` (symlinked directories are not entered,
    nor the directories ``exclude`` names by absolute path)."""
    stack = [top]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.path not in exclude:
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                yield entry.path


def _join(root: str, record_path: str) -> str:
    """The normalized absolute path of a RECORD path (plain strings: 20,000 files a report)."""
    return os.path.normpath(os.path.join(root, record_path))  # noqa: PTH118


def _metadata_paths(root: str, dist_info: str) -> list[str]:
    """Every file in the ``.dist-info`` directory, as RECORD would write it."""
    base = _join(root, dist_info)
    return sorted(os.path.relpath(p, root).replace(os.sep, "/") for p in _walk_files(base))


def _compiled(files: Iterable[str], cache_tag: str) -> list[str]:
    """The ``__pycache__`` files of the ``.py`` files among ``files``.

    Installers that compile without recording (uv) leave them out of RECORD; they belong
    to the distribution all the same, as pip's uninstall knows.
    """
    out = []
    for path in files:
        if path.endswith(".py") and not path.startswith("../"):
            head, _, name = path.rpartition("/")
            pyc = f"__pycache__/{name[:-3]}.{cache_tag}.pyc"
            out.append(f"{head}/{pyc}" if head else pyc)
    return out


def measure_files(
    *,
    name: str,
    version: str,
    root: str,
    paths: Iterable[str],
    classifier: Classifier,
    used: Used | None,
    claimed: set[str],
    optional: Collection[str] = (),
    inner: Callable[[str], str] | None = None,
    removed: Removal | None = None,
) -> DistributionReport:
    """Count the files ``paths`` (relative to ``root``) no earlier distribution claimed,
    and claim them: each with its ``os.lstat`` size, in the category ``classifier`` gives
    it (of ``inner(path)``, the path as the classifier sees it: default the path itself),
    used when it is metadata or ``used`` covers it. A path that is not on disk counts as
    missing, unless it is one of the ``optional`` ones.
    """
    tally = _Tally()
    removable = [0, 0]
    for path in paths:
        absolute = _join(root, path)
        if absolute in claimed:
            continue
        st = _lstat(absolute)
        if st is None:
            tally.missing += 0 if path in optional else 1
            continue
        if not _countable(st):
            continue
        claimed.add(absolute)
        seen_as = inner(path) if inner is not None else path
        category = classifier.category(seen_as)
        is_used = used is not None and (category == "metadata" or used.covers(path))
        tally.add(category, st.st_size, is_used)
        if classifier.removable(seen_as):
            removable[0] += 1
            removable[1] += st.st_size
    total = tally.total()
    return DistributionReport(
        name=name,
        version=version,
        files=total.files,
        bytes=total.bytes,
        used_files=total.used_files,
        used_bytes=total.used_bytes,
        categories=tally.ordered(),
        profile_version=used.profile_version if used else None,
        missing=tally.missing,
        removable_files=removable[0],
        removable_bytes=removable[1],
        removable_categories=tuple(c for c in CATEGORIES if classifier.removable_category(c)),
        removed=removed,
    )


def measure_distribution(
    dist: InstalledDistribution, used: Used | None, claimed: set[str], cache_tag: str = ""
) -> DistributionReport:
    """Count the files of ``dist`` no earlier distribution claimed, and claim them.

    The RECORD's files, their compiled bytecode where RECORD does not list it, then any
    file of the ``.dist-info`` directory RECORD does not list (a distribution without
    RECORD still owns its metadata).
    """
    root = os.path.realpath(dist.root)
    compiled = _compiled(dist.files, cache_tag) if cache_tag else []
    extra = [p for p in compiled if _join(root, p) not in claimed]
    return measure_files(
        name=dist.name,
        version=dist.version,
        root=root,
        paths=(*dist.files, *_metadata_paths(root, dist.dist_info), *extra),
        classifier=Classifier(dist.name, dist.files, dist.dist_info),
        used=used,
        claimed=claimed,
        optional=frozenset(extra),
        removed=_removal(root, dist.dist_info),
    )


def measure_unowned(
    roots: Iterable[str], claimed: set[str], exclude: Collection[str] = ()
) -> Unowned:
    """Every file under ``roots`` (absolute, resolved; ``exclude``: directories not
    entered) that nothing claimed, each once, classified by its path relative to the first
    root it is found under."""
    found: list[tuple[str, str, int]] = []
    for root in roots:
        for absolute in _walk_files(root, exclude):
            if absolute in claimed:
                continue
            st = _lstat(absolute)
            if st is None or not _countable(st):
                continue
            claimed.add(absolute)
            found.append(
                (absolute, os.path.relpath(absolute, root).replace(os.sep, "/"), st.st_size)
            )
    classifier = Classifier("", [relative for _, relative, _ in found], "")
    tally = _Tally()
    removable = 0
    for _, relative, size in found:
        first = relative.split("/", 1)[0]
        metadata = first.endswith(_METADATA_DIRS)
        tally.add("metadata" if metadata else classifier.category(relative), size, False)
        removable += size if not metadata and classifier.removable(relative) else 0
    total = tally.total()
    return Unowned(
        files=total.files,
        bytes=total.bytes,
        categories=tally.ordered(),
        paths=tuple(sorted(a for a, _, _ in found)),
        removable_bytes=removable,
    )


def _removal(root: str, dist_info: str) -> Removal | None:
    """What the manifest of a lean distribution says it lost, less what is back on disk;
    None for a distribution without a readable manifest."""
    manifest, issues = Manifest.read(str(Path(root, dist_info, layout.MANIFEST_NAME)))
    if manifest is None or issues:
        return None
    data = layout.data_prefix(manifest.original.record.split("/")[0]) if manifest.original else "\0"
    removed = {}
    for path, size in manifest.removed.items():
        installed = layout.installed_path(path, data)
        where = Path(_join(root, installed if installed is not None else path))
        if not (where.is_file() and not layout.is_stub_file(where)):
            removed[path] = size
    classifier = Classifier(manifest.name, removed, dist_info)
    removal = removal_of(manifest.decision, removed, classifier, manifest.profile_label)
    symbols, fatbins = sum(manifest.symbols.values()), sum(manifest.fatbins.values())
    if not symbols and not fatbins:
        return removal
    return replace(removal, bytes=removal.bytes + symbols + fatbins, symbols=symbols,
                   fatbins=fatbins)  # fmt: skip


def removal_of(
    decision: str,
    removed: Mapping[str, int],
    classifier: Classifier,
    profile: str,
    inner: Callable[[str], str] | None = None,
) -> Removal:
    """The ``Removal`` of the files ``removed`` (path -> size), by the category
    ``classifier`` gives each (of ``inner(path)``, as in ``measure_files``)."""
    categories: dict[Category, int] = {}
    for path, size in removed.items():
        category = classifier.category(inner(path) if inner is not None else path)
        categories[category] = categories.get(category, 0) + size
    return Removal(
        decision=decision,
        files=len(removed),
        bytes=sum(removed.values()),
        categories={c: categories[c] for c in CATEGORIES if c in categories},
        profile=profile,
    )


def _roots(env: Environment) -> list[str]:
    """The site-packages directories, resolved, each once (``lib64`` is often ``lib``)."""
    roots: list[str] = []
    for path in env.site_packages:
        real = os.path.realpath(path)
        if real not in roots and Path(real).is_dir():
            roots.append(real)
    return roots


def build_report(env: Environment, profile: Profile | None = None) -> Report:
    """Measure ``env`` on disk, and against ``profile`` if one is given.

    Each file counts once, for the first distribution (in ``env.distributions()`` order)
    whose RECORD lists it. With a profile a distribution's used files are those its
    profile entry lists as loaded or probed (a ``.pyc`` also marks its ``.py``, not the
    other way round), the console scripts it ran, and all its metadata (pip needs it).
    The entry at the installed version is used; if the profile only has other versions,
    their paths are matched and ``profile_version`` says which. A distribution the profile
    does not name used its metadata only.
    """
    claimed: set[str] = set()
    dists = []
    major, minor = env.python.split(".")[:2]
    cache_tag = f"{env.implementation}-{major}{minor}"
    for dist in env.distributions():
        used = used_by(profile, dist.name, dist.version) if profile is not None else None
        dists.append(measure_distribution(dist, used, claimed, cache_tag))
    roots = _roots(env)
    return Report(
        environment=ReportEnvironment(
            python=env.python,
            executable=env.executable,
            prefix=str(env.prefix),
            site_packages=tuple(roots),
        ),
        distributions=tuple(dists),
        unowned=measure_unowned(roots, claimed),
        has_profile=profile is not None,
    )
