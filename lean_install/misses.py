"""Misses: the stubs a lean environment's programs touched, and folding them into a profile.

The reserve (``reserve.py``) appends one JSON line per miss to
``<prefix>/lean-install/misses.jsonl``, in every ``on-miss`` mode. ``lean-install misses``
lists them; ``lean-install profile update PROFILE --from-misses`` adds the files each
miss needed to the profile as loaded, so the next lean install keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from lean_install.environment import Environment
from lean_install.profile import DistributionUsage, Profile, check_relative_path, merge_profiles
from lean_install.reserve import read_misses

__all__ = ["Miss", "environment_misses", "render_misses", "fold_misses"]


@dataclass(frozen=True)
class Miss:
    """One import of a stub: what was missed, where, and what came of it."""

    time: str
    module: str
    distribution: str
    version: str
    mode: str
    outcome: str
    """``raised``, ``restored``, or ``failed: <reason>``."""
    files: tuple[str, ...]
    """The removed files the miss needed (restored ones, when it restored), as installed
    paths; for a stub distribution that raised, only the stub's own."""
    stub: str
    argv: tuple[str, ...]
    source: str = ""

    @classmethod
    def from_log(cls, entry: dict[str, Any]) -> Miss | None:
        """A logged line as a Miss; None for a line without the fields every miss has."""
        text = {key: entry.get(key) for key in ("time", "module", "distribution", "version")}
        if not all(isinstance(v, str) and v for v in text.values()):
            return None
        files = entry.get("files")
        argv = entry.get("argv")
        return cls(
            time=str(text["time"]),
            module=str(text["module"]),
            distribution=str(text["distribution"]),
            version=str(text["version"]),
            mode=str(entry.get("mode", "")),
            outcome=str(entry.get("outcome", "")),
            files=tuple(f for f in files if isinstance(f, str)) if isinstance(files, list) else (),
            stub=str(entry.get("stub", "")),
            argv=tuple(str(a) for a in argv) if isinstance(argv, list) else (),
            source=str(entry.get("source", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "mode": self.mode,
            "outcome": self.outcome,
            "files": list(self.files),
            "stub": self.stub,
            "argv": list(self.argv),
            "source": self.source,
        }


def environment_misses(env: Environment) -> list[Miss]:
    """The misses logged in ``env``, oldest first."""
    misses = (Miss.from_log(entry) for entry in read_misses(str(env.prefix)))
    return [m for m in misses if m is not None]


def render_misses(misses: Sequence[Miss]) -> str:
    if not misses:
        return "no misses: no program touched removed code in this environment"
    rows = [("time", "module", "distribution", "outcome", "files", "command")]
    for miss in misses:
        command = " ".join(miss.argv)
        rows.append(
            (
                miss.time,
                miss.module,
                f"{miss.distribution} {miss.version}",
                miss.outcome,
                str(len(miss.files)),
                command if len(command) <= 60 else command[:57] + "...",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def fold_misses(profile: Profile, misses: Iterable[Miss]) -> tuple[Profile, int]:
    """``profile`` with every missed file added as loaded; also how many files were new.

    Paths that are not safe relative paths (a log edited by hand) are skipped.
    """
    usages = []
    for miss in misses:
        files = [f for f in (*miss.files, miss.stub) if f and check_relative_path(f) is None]
        if files:
            name = canonicalize_name(miss.distribution)
            usages.append(DistributionUsage(name=name, version=miss.version, files=tuple(files)))
    before = _loaded(profile)
    folded = merge_profiles([profile, Profile(distributions=tuple(usages))])
    return folded, len(_loaded(folded) - before)


def _loaded(profile: Profile) -> set[tuple[str, str, str]]:
    return {(d.name, d.version, f) for d in profile.distributions for f in d.files}
