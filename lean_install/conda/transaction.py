"""After a conda transaction: apply the ``lean_profile`` setting to the prefix it changed.

conda runs lean-install's post-transaction action (``plugin``) at the end of every
transaction (``conda create``, ``install``, ``update``, ``remove``), once conda has linked
the packages, compiled their bytecode and written their ``conda-meta`` records. It calls
``after_transaction`` here with the prefix and the packages conda unlinked and linked:

- a stripped package conda just replaced (reinstalled, updated) or removed has its
  manifest dropped first: conda put the whole package back (or took it away), so
  lean-install's record of what it removed no longer describes anything;
- with a profile configured, the packages conda just linked are stripped as ``conda
  lean strip`` strips them (``plan``: the same rules, the same closure across the whole
  prefix); the packages the transaction did not touch stay as they are (``untouched``),
  so a package restored on purpose is not stripped again by the next ``conda install``.

A package the profile has no entry for follows the rule of ``conda lean strip`` (and of
the pip side, which stubs a distribution the profile never used): ``unused``, its files
go and its metadata stays; the message names it and ``conda lean restore`` brings it
back. A profile that cannot be read, or that has no conda package at all (a profile
traced outside any conda prefix), is refused before anything changes: the prefix stays
as conda made it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from lean_install.conda import commands, journal
from lean_install.conda.manifest import manifest_path, read_manifests
from lean_install.conda.plan import StripPlan
from lean_install.conda.records import CONDA_META, is_conda_prefix
from lean_install.errors import ProfileError
from lean_install.profile import Profile

__all__ = [
    "SETTING",
    "ENV_VAR",
    "Outcome",
    "profile_path",
    "forget_replaced",
    "after_transaction",
    "interrupted",
]

SETTING = "lean_profile"
"""The conda setting: ``plugins: {lean_profile: PATH}`` in a ``.condarc``."""
ENV_VAR = "CONDA_PLUGINS_LEAN_PROFILE"
"""The same setting as an environment variable (conda maps ``CONDA_PLUGINS_<NAME>``)."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the post-transaction action did to a prefix."""

    prefix: Path
    profile: str = ""
    forgotten: tuple[str, ...] = ()
    """Stripped packages whose manifest was dropped: conda replaced or removed them."""
    recovered: str = ""
    plan: StripPlan | None = None

    def describe(self) -> list[str]:
        """The lines the action prints (on stderr: conda's stdout may be ``--json``)."""
        lines = []
        for stem in self.forgotten:
            if (self.prefix / CONDA_META / f"{stem}.json").exists():
                said = "conda installed it again, whole: it is no longer lean"
            else:
                said = "conda removed it: lean-install forgets it"
            lines.append(f"lean-install: {stem} was stripped; {said}")
        if self.recovered:
            lines.append(f"lean-install: {self.recovered}")
        if self.plan is None:
            return lines
        changed = self.plan.changed
        total = sum(p.bytes_removed for p in changed)
        if not changed:
            lines.append(
                f"lean-install: the lean profile {self.profile} removes nothing from the "
                "packages conda just installed"
            )
            return lines
        lines.append(
            f"lean-install: lean profile {self.profile}: stripped {len(changed)} package(s) "
            f"conda just installed in {self.prefix}, {total:,} bytes removed"
        )
        lines += [f"  {p.describe()}" for p in changed]
        lines.append(
            f"  bring them back with: conda lean restore -p {self.prefix} --all (or NAME ...)"
        )
        return lines


def profile_path(setting: str | os.PathLike[str] | None) -> Path | None:
    """The profile a ``lean_profile`` setting names (``~`` and variables expanded;
    relative to the working directory); None when it is not set."""
    if setting is None or not os.fspath(setting).strip():
        return None
    return Path(os.path.expandvars(os.fspath(setting).strip())).expanduser().absolute()


def forget_replaced(
    prefix: Path, linked: Collection[str], unlinked: Collection[str]
) -> tuple[str, ...]:
    """Drop the manifests of stripped packages this transaction linked again (conda put
    the whole package back) or unlinked for good; the stems whose manifest went."""
    manifests = read_manifests(prefix)
    gone = []
    for stem in sorted(manifests):
        record = prefix / CONDA_META / f"{stem}.json"
        if stem in linked or (stem in unlinked and not record.exists()):
            manifest_path(prefix, stem).unlink(missing_ok=True)
            gone.append(stem)
    return tuple(gone)


def _check_profile(path: Path) -> None:
    """Refuse a profile that cannot be read, or that names no conda package at all."""
    profile = Profile.load(path)  # a ProfileError with every problem
    if not any(d.kind == "conda" for d in profile.distributions):
        raise ProfileError(
            str(path),
            ['it has no conda package (kind = "conda"): it was not traced in a conda prefix'],
            hint="trace the workload with the prefix's own python (lean-install trace -o "
            "PROFILE -- PREFIX/bin/python WORKLOAD), or unset the lean_profile setting",
        )


def after_transaction(
    prefix: str | os.PathLike[str],
    setting: str | os.PathLike[str] | None,
    linked: Collection[str],
    unlinked: Collection[str] = (),
    *,
    on_forgotten: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Apply the ``lean_profile`` setting to ``prefix`` after conda linked ``linked`` and
    unlinked ``unlinked`` (package stems, ``NAME-VERSION-BUILD``).

    The manifests of replaced packages are dropped first, whatever the setting
    (``on_forgotten`` hears of it then, so it is said even when the profile fails). Raises
    a LeanInstallError for a profile that cannot be used, before anything else changes.
    """
    prefix = Path(prefix).absolute()
    if not is_conda_prefix(prefix):
        return Outcome(prefix=prefix)
    forgotten = forget_replaced(prefix, set(linked), set(unlinked))
    if forgotten and on_forgotten is not None:
        on_forgotten(Outcome(prefix=prefix, forgotten=forgotten))
        forgotten = ()
    path = profile_path(setting)
    present = [s for s in linked if (prefix / CONDA_META / f"{s}.json").exists()]
    if path is None or not present:
        return Outcome(prefix=prefix, forgotten=forgotten)
    _check_profile(path)
    recovered, plan = commands.strip_prefix(prefix, path, only=set(present))
    return Outcome(
        prefix=prefix, profile=str(path), forgotten=forgotten, recovered=recovered, plan=plan
    )


def interrupted(prefix: str | os.PathLike[str]) -> bool:
    """Whether a ``conda lean`` operation in ``prefix`` stopped half-way (its journal)."""
    try:
        return journal.journal_path(prefix).exists()
    except OSError:
        return False
