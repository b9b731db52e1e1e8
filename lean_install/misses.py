"""Misses: what a lean environment's programs reached of the removed code, and folding them
into a profile.

The reserve appends one record per miss (``runtime.records.Miss``) to
``<prefix>/lean-install/misses.jsonl``, in every ``on-miss`` mode. ``lean-install misses``
lists them; ``lean-install profile update PROFILE --from-misses`` adds the files each
miss needed to the profile as loaded, so the next lean install keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.utils import canonicalize_name

from lean_install.environment import Environment
from lean_install.profile import DistributionUsage, Profile, check_relative_path, merge_profiles
from lean_install.runtime.records import Miss, read_misses

__all__ = ["Miss", "environment_misses", "render_misses", "fold_misses"]


def environment_misses(env: Environment) -> list[Miss]:
    """The misses logged in ``env``, oldest first."""
    return read_misses(env.prefix)


def render_misses(misses: Sequence[Miss]) -> str:
    if not misses:
        return "no misses: no program touched removed code in this environment"
    rows = [("time", "module", "distribution", "outcome", "files", "MB", "source", "command")]
    for miss in misses:
        command = " ".join(miss.argv)
        source = miss.source.split(" (", 1)[0] if miss.source else ""
        rows.append(
            (
                miss.time,
                miss.module,
                f"{miss.distribution} {miss.version}",
                miss.outcome,
                str(len(miss.files)),
                f"{miss.bytes / 1e6:.1f}",
                _short(source, 40),
                _short(command, 60),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    restored = [m for m in misses if m.outcome == "restored"]
    if restored:
        total = sum(m.bytes for m in restored)
        lines.append(
            f"\n{len(restored)} restored, {total / 1e6:.1f} MB; fold them into the profile "
            "with: lean-install profile update PROFILE --from-misses --python PY"
        )
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


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
