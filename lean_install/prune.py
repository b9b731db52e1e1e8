"""Prune: remove what was in the environment before, that the profile never used and that
nothing left there needs.

``python -m venv`` seeds setuptools (Python 3.11 and older) next to pip; a workload that
never imports it carries 8 MB it does not use. ``install --prune`` uninstalls such
distributions with the target's pip: a distribution the lean install did not just put
there, that the profile never used (beyond a ``.pth`` startup hook of its own), that no
remaining distribution requires (markers evaluated for the target), and that is not an
installer (pip, uv). What was pruned is
recorded in ``state.json``; ``pip install NAME==VERSION`` brings one back.
"""

from __future__ import annotations

import email.parser
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from lean_install.environment import Environment, InstalledDistribution
from lean_install.profile import Profile
from lean_install.state import record_pruned
from lean_install.target import TargetPip

__all__ = ["INSTALLERS", "prunable", "prune"]

INSTALLERS = frozenset({"pip", "uv"})
"""Never pruned: the environment stays one that pip (or uv) can manage."""


def prunable(
    env: Environment,
    installed_now: Collection[str],
    profile: Profile,
    markers: Mapping[str, str],
) -> list[InstalledDistribution]:
    """The distributions of ``env`` that ``prune`` would remove, by name."""
    dists = {d.name: d for d in env.distributions()}
    keep = {n for n in dists if n in INSTALLERS or n in installed_now}
    keep |= {n for n in dists if _used(dists[n], profile)}
    requires = {name: _requirements(dist, markers) for name, dist in dists.items()}
    todo = list(keep)
    while todo:
        for needed in requires.get(todo.pop(), ()):
            if needed in dists and needed not in keep:
                keep.add(needed)
                todo.append(needed)
    return [dist for name, dist in sorted(dists.items()) if name not in keep]


def _used(dist: InstalledDistribution, profile: Profile) -> bool:
    """Whether the profile used ``dist`` beyond its own startup hook.

    A ``.pth`` file runs at every interpreter start, so a trace sees it and the modules it
    imports loaded whatever the workload does: setuptools' ``distutils-precedence.pth``
    imports ``_distutils_hack``. A workload that went through the hook (``import
    distutils`` under the shim) also loaded ``setuptools/_distutils``, which counts.
    """
    files = {f for u in profile.find(dist.name) if u.version == dist.version for f in u.files}
    others = any(u.used for u in profile.find(dist.name) if u.version != dist.version)
    if others or not files:
        return others
    hooks = [f for f in dist.files if f.endswith(".pth") and "/" not in f]
    started = {m.split(".")[0] for f in hooks for m in _pth_imports(dist.absolute(f))}
    return any(f not in hooks and f.split("/")[0].removesuffix(".py") not in started for f in files)


def _pth_imports(path: Path) -> set[str]:
    """The modules the ``import`` lines of a ``.pth`` file import."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return set()
    found = set()
    for line in lines:
        if line.startswith(("import ", "import\t")):
            found |= set(_DYNAMIC_IMPORT.findall(line))
            found |= {m for part in line.split(";") for m in _STATIC_IMPORT.findall(part.strip())}
    return found


_DYNAMIC_IMPORT = re.compile(r"""__import__\(\s*['"]([\w.]+)['"]""")
_STATIC_IMPORT = re.compile(r"^import\s+([\w.]+)")


def prune(target: TargetPip, dists: Iterable[InstalledDistribution]) -> list[str]:
    """Uninstall ``dists`` with the target's pip and record them; return ``name==version``."""
    dists = list(dists)
    if not dists:
        return []
    target.uninstall([d.name for d in dists])
    record_pruned(target.env, {d.name: d.version for d in dists})
    return [f"{d.name}=={d.version}" for d in dists]


def _requirements(dist: InstalledDistribution, markers: Mapping[str, str]) -> set[NormalizedName]:
    """What ``dist`` requires in this environment (extras not counted)."""
    try:
        text = (dist.root / dist.dist_info / "METADATA").read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        return set()
    needed = set()
    for line in email.parser.HeaderParser().parsestr(text).get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # pip installed it with this metadata: not ours to judge
        try:
            applies = req.marker is None or req.marker.evaluate({**markers, "extra": ""})
        except (UndefinedComparison, UndefinedEnvironmentName):
            applies = True  # cannot tell: count it as needed
        if applies:
            needed.add(canonicalize_name(req.name))
    return needed
