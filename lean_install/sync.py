"""Sync: make an environment hold exactly what a lock installs there, as pip-tools does:
select what the lock installs into this target, diff it against what is installed (a
pure function of the two), apply the difference.

Everything is checked before anything changes: the target's Python and platform, each
original's hash, each lean file's sha256. pip itself is never uninstalled, nor
lean-install.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from lean_install import backup
from lean_install.build import build
from lean_install.cache import Cache, file_sha256
from lean_install.environment import Environment, InstalledDistribution, read_record
from lean_install.errors import HashMismatchError, LockError
from lean_install.fetch import FETCHED, fetch
from lean_install.install import Result, apply, verify_and_repair
from lean_install.lock import TOOL, LeanLock, LockedDistribution, select
from lean_install.progress import Progress
from lean_install.state import configure_on_miss
from lean_install.target import TargetPip
from lean_install.verify import planned_checks, to_check
from lean_install.wheelhouse import from_wheelhouse

__all__ = ["Diff", "diff", "lean_wheels", "sync"]

KEPT = frozenset({"pip", TOOL})
"""Never uninstalled by a sync."""


@dataclass(frozen=True)
class Diff:
    """What a sync changes: ``name==version`` to install and to remove, and what stays."""

    install: tuple[LockedDistribution, ...]
    remove: tuple[str, ...]
    unchanged: tuple[LockedDistribution, ...]
    removed_versions: Mapping[str, str]

    @property
    def empty(self) -> bool:
        return not self.install and not self.remove


def diff(
    installed: Mapping[NormalizedName, InstalledDistribution],
    wanted: Sequence[LockedDistribution],
    wheels: Mapping[NormalizedName, Path],
) -> Diff:
    """What to install (missing, or not exactly the lock's file) and to remove (not in the
    lock; pip and lean-install stay)."""
    same = tuple(d for d in wanted if _installed_exactly(installed.get(d.name), d, wheels[d.name]))
    extra = sorted(set(installed) - {d.name for d in wanted} - {"pip"})
    if TOOL in extra:
        raise LockError(
            "<sync>",
            [f"sync would uninstall {TOOL} itself"],
            hint="sync another environment: --python ENV/bin/python",
        )
    return Diff(
        install=tuple(d for d in wanted if d not in same),
        remove=tuple(extra),
        unchanged=same,
        removed_versions={n: installed[n].version for n in extra},
    )


def _installed_exactly(
    installed: InstalledDistribution | None, dist: LockedDistribution, wheel: Path
) -> bool:
    """Installed at the lock's version, with every file of its wheel as RECORD hashed it."""
    if installed is None:
        return False
    try:
        if Version(installed.version) != Version(dist.lean_version):
            return False
    except InvalidVersion:
        return False
    if wheel.suffix != ".whl":  # an sdist kept as is: its build's files are unknown here
        return True
    recorded = {entry.path: entry.hash for entry in installed.record}
    return all(recorded.get(path) == digest for path, digest in _wheel_record(wheel).items())


def _wheel_record(wheel: Path) -> dict[str, str]:
    """A wheel's RECORD hashes of the files that install into site-packages."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
        )
        rows = read_record(archive.read(name).decode("utf-8"))
    return {r.path: r.hash for r in rows if r.hash and not r.path.split("/")[0].endswith(".data")}


def lean_wheels(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    *,
    target: TargetPip,
    cache: Cache,
    pip_args: Sequence[str],
    wheelhouse: str | None,
    scratch: Path,
    progress: Progress,
) -> dict[NormalizedName, Path]:
    """The file to install for each of ``dists``, each checked against the lock's sha256:
    from ``wheelhouse`` (downloaded into ``scratch``) if given, else built from the
    originals as the lock's plan says. Any mismatch raises LockError, naming all."""
    if wheelhouse:
        wheels = from_wheelhouse(lock, dists, wheelhouse, scratch, progress)
    else:
        plan = lock.plan(dists)
        wanted = [d for d in plan.distributions if d.decision in FETCHED]
        progress.step("fetching originals", len(wanted))
        try:
            originals = fetch(wanted, cache, target, pip_args)
        except HashMismatchError as exc:
            raise LockError(
                lock.source,
                [f"an original does not match the lock: {exc}"],
                "the file changed since the lock was made; lock again",
            ) from None
        wheels = build(plan, originals, cache, progress)
    issues = [
        f"{d.name}: the {d.plan.decision} file {d.lean.filename} has sha256 {actual}, "
        f"the lock says {d.lean.sha256}"
        for d in dists
        if (actual := file_sha256(wheels[d.name])) != d.lean.sha256
    ]
    if issues:
        raise LockError(
            lock.source,
            issues,
            hint="the lean wheels differ from those the lock "
            "was made with (another lean-install version?): lock again",
        )
    return wheels


def sync(
    env: Environment,
    lock: LeanLock,
    *,
    target: TargetPip,
    cache: Cache,
    pip_args: Sequence[str],
    wheelhouse: str | None,
    progress: Progress,
    on_miss: str | None = None,
) -> tuple[Diff, Result]:
    """Make ``env`` hold exactly what ``lock`` installs there, verify it (as ``install``
    does: originals put back where it fails, the environment as it was if that does not
    help); return what changed and what verification found."""
    dists = select(lock, env.markers, target.tags(), env.executable)
    installed = {d.name: d for d in env.distributions()}
    result = Result()
    with cache.temporary_directory() as scratch:
        wheels = lean_wheels(
            lock,
            dists,
            target=target,
            cache=cache,
            pip_args=pip_args,
            wheelhouse=wheelhouse,
            scratch=scratch,
            progress=progress,
        )
        changes = diff(installed, dists, wheels)
        if changes.empty:
            if on_miss is not None:
                configure_on_miss(env, on_miss)
            return changes, result
        plan = lock.plan(changes.install)
        checks = planned_checks(lock.plan(dists), lock.profile, {})
        taken = backup.take(env, [*(d.name for d in changes.install), *changes.remove])
        try:
            apply(
                env,
                target,
                plan,
                {d.name: wheels[d.name] for d in changes.install},
                cache,
                progress,
                pip_args=pip_args,
                reinstall=True,
                on_miss=on_miss,
                uninstall=changes.remove,
                checks=checks,
            )
            verify_and_repair(
                plan, {}, target, cache, progress, result, taken, to_check(env, checks)
            )
        finally:
            backup.discard(env)
    return changes, result
