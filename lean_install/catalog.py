"""The curated profiles that ship with lean-install, and naming profiles on a command line.

A ``--profile`` argument (in ``install``, ``wheel``, ``lock``, ``report``, ``profile
show``) is a path, or the name of a bundled profile (``lean-install profile list``). With
no profile given, ``install`` picks the bundled ones that cover the request
(``choose_bundled``): of those that used every requested distribution, the ones of the
same release and build first, then those that used the fewest other distributions.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from lean_install.errors import Issue, ProfileError
from lean_install.profile import Profile, merge_profiles

__all__ = [
    "bundled_profiles_dir",
    "bundled_profiles",
    "profile_path",
    "is_bundled",
    "load_profiles",
    "Choice",
    "choose_bundled",
]


def bundled_profiles_dir() -> Path:
    """Where the curated profiles are: inside the installed package, or the source tree's."""
    here = Path(__file__).parent
    for candidate in (here / "profiles", here.parent / "profiles"):
        if candidate.is_dir():
            return candidate
    return here / "profiles"


def bundled_profiles() -> dict[str, Path]:
    """The curated profiles by name (file stem)."""
    return {p.stem: p for p in sorted(bundled_profiles_dir().glob("*.toml"))}


def is_bundled(spec: str) -> bool:
    """Whether a ``--profile`` argument names a bundled profile (not a file)."""
    return not Path(spec).exists() and spec in bundled_profiles()


def profile_path(spec: str) -> Path:
    """The file a ``--profile`` argument names: a path, else a bundled profile's name.

    Neither: a ProfileError that lists the bundled names (and the closest, if any).
    """
    path = Path(spec)
    if path.exists():
        return path
    bundled = bundled_profiles()
    if spec in bundled:
        return bundled[spec]
    close = difflib.get_close_matches(spec, list(bundled), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    what = (
        f"no such file, and no bundled profile of that name ({hint}bundled: "
        f"{', '.join(bundled) or 'none'}; see: lean-install profile list)"
    )
    raise ProfileError(spec, [Issue("", what)])


def load_profiles(specs: Sequence[str]) -> tuple[Profile | None, str]:
    """Load and merge profiles named by path or by bundled name; also return their label.

    The label (file stems joined by ``+``) is how stubs name the profile.
    """
    if not specs:
        return None, ""
    profiles, labels = [], []
    for spec in specs:
        path = profile_path(spec)
        profiles.append(Profile.load(path))
        labels.append(path.stem if path.suffix == ".toml" else path.name)
    return merge_profiles(profiles), "+".join(labels)


@dataclass(frozen=True)
class Choice:
    """The bundled profiles auto-selection took, and why."""

    names: tuple[str, ...]
    exact: bool
    """Whether they were traced on the very versions resolved (same release and build)."""


def choose_bundled(
    requested: Sequence[NormalizedName], resolved: dict[NormalizedName, str]
) -> Choice | None:
    """The bundled profiles that best cover ``requested`` (names), ``resolved`` giving the
    version each requested distribution resolved to; None if none covers them all."""
    if not requested:
        return None
    wanted = set(requested)
    scores: dict[str, tuple[int, int]] = {}
    for name, path in bundled_profiles().items():
        profile = Profile.load(path)
        used = {d.name: d.version for d in profile.distributions if d.used}
        if not wanted <= set(used):
            continue
        exact = all(_same(used[n], resolved.get(n, "")) for n in wanted)
        scores[name] = (0 if exact else 1, len(set(used) - wanted))
    if not scores:
        return None
    best = min(scores.values())
    names = tuple(sorted(n for n, score in scores.items() if score == best))
    return Choice(names, exact=best[0] == 0)


def _same(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
