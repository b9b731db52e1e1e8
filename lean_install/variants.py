"""Build variants: the CPU build of the same release, where the profile never used a GPU.

``pip install torch`` resolves to a CUDA build (torch 2.14.1 brings 19 nvidia and cuda
distributions and triton: 5.4 GB); a workload that never used a GPU needs its ``+cpu``
build, a tenth of that. When the profile never used a GPU and the resolution holds a GPU
build, ``find_swaps`` looks for the CPU build of that very release on the variant sources
(``--variant-index-url``, ``--variant-find-links``; for the PyTorch projects, the PyTorch
CPU index by default) and resolves the request again with it pinned, so that build's own
dependencies come in (no nvidia, no triton). Never another release: the pin is
``==<release>+cpu``. Found: the plan swaps. Not found: the GPU build stays (leaned by the
profile and the shared-library closure) and one note says so and how to point at one.
"""

from __future__ import annotations

import re
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from lean_install.errors import LeanInstallError
from lean_install.plan import Source, Swap
from lean_install.profile import Profile
from lean_install.resolve import Resolution, ResolvedDistribution
from lean_install.target import TargetPip

__all__ = ["DEFAULT_SOURCES", "VariantSources", "is_gpu_runtime", "Swapped", "find_swaps"]

DEFAULT_SOURCES: Mapping[str, tuple[str, ...]] = {
    "torch": ("https://download.pytorch.org/whl/cpu",),
    "torchvision": ("https://download.pytorch.org/whl/cpu",),
    "torchaudio": ("https://download.pytorch.org/whl/cpu",),
}
"""Where the CPU builds of projects known to ship GPU builds are, by default."""
_GPU_RUNTIME = re.compile(r"^(nvidia-.*|cuda-.*|triton|pytorch-triton(-.*)?)$")
_GPU_LABEL = re.compile(r"^(cu\d+|rocm[\d.]+)")


def is_gpu_runtime(name: str) -> bool:
    """A distribution only a GPU build needs (``nvidia-cublas``, ``triton``, ...)."""
    return _GPU_RUNTIME.match(name) is not None


@dataclass(frozen=True)
class VariantSources:
    """Where other builds are looked for."""

    index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    enabled: bool = True
    defaults: bool = True
    """Also look at ``DEFAULT_SOURCES`` for the projects it names."""

    def options(self, name: str) -> list[str]:
        """pip options that add the variant sources for ``name``."""
        indexes = [*self.index_urls, *(DEFAULT_SOURCES.get(name, ()) if self.defaults else ())]
        links = [a for d in self.find_links for a in ("--find-links", d)]
        return [*(a for u in dict.fromkeys(indexes) for a in ("--extra-index-url", u)), *links]

    def describe(self, name: str) -> str:
        where = [*self.index_urls, *(DEFAULT_SOURCES.get(name, ()) if self.defaults else ())]
        return ", ".join([*dict.fromkeys(where), *self.find_links]) or "no variant source"


@dataclass(frozen=True)
class Swapped:
    """The resolution with the CPU builds in, what each swap replaced, and what to say."""

    resolution: Resolution
    swaps: Mapping[NormalizedName, Swap]
    notes: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    """The pip options that reach the CPU builds (the fetch needs them too)."""
    dropped: tuple[ResolvedDistribution, ...] = ()
    """What the GPU builds brought that the CPU builds do not need, and the GPU builds."""


def _gpu_builds(resolution: Resolution, sources: VariantSources) -> list[ResolvedDistribution]:
    """The distributions of the resolution that are GPU builds: a ``+cu130``-style label;
    or, beside GPU-only distributions, a project known to ship GPU builds, or one whose
    ``+cpu`` build of that release lies in a ``--variant-find-links`` directory."""
    runtime = any(is_gpu_runtime(d.name) for d in resolution.distributions)
    local_builds = {
        p.name for d in sources.find_links if Path(d).is_dir() for p in Path(d).iterdir()
    }
    found = []
    for dist in resolution.distributions:
        local = _local(dist.version)
        if local == "cpu" or is_gpu_runtime(dist.name):
            continue
        offered = any(n.startswith(_stem(dist)) for n in local_builds)
        known = dist.name in DEFAULT_SOURCES or offered
        if _GPU_LABEL.match(local) or (runtime and known and not local):
            found.append(dist)
    return found


def _stem(build: ResolvedDistribution) -> str:
    """How the CPU build's wheel file name starts: ``torch-2.14.1+cpu-``."""
    return f"{build.name.replace('-', '_')}-{_public(build.version)}+cpu-"


def _local(version: str) -> str:
    try:
        return Version(version).local or ""
    except InvalidVersion:
        return ""


def _public(version: str) -> str:
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def find_swaps(
    pip_args: Sequence[str],
    resolution: Resolution,
    profile: Profile | None,
    sources: VariantSources,
    target: TargetPip,
) -> Swapped:
    """The CPU builds of the GPU builds in ``resolution``, if the profile never used a GPU
    and the variant sources have them (see the module docstring)."""
    if not sources.enabled or profile is None or profile.uses_gpu:
        return Swapped(resolution, {})
    builds = _gpu_builds(resolution, sources)
    if not builds:
        return Swapped(resolution, {})
    looked = {d.name: _offered(d, sources) for d in builds}
    missing = [d for d in builds if not looked[d.name][0]]
    if missing:
        notes = tuple(
            f"no CPU build of {d.name} {_public(d.version)} was found ({looked[d.name][1]}): its "
            "GPU build stays, leaned by the profile; point at one with --variant-index-url "
            "URL or --variant-find-links DIR"
            for d in missing
        )
        return Swapped(resolution, {}, notes)
    options = list(dict.fromkeys(a for d in builds for a in _option(looked[d.name][1], sources)))
    pins = [f"{d.name}=={_public(d.version)}+cpu" for d in builds]
    with tempfile.TemporaryDirectory(prefix="lean-install-variants-") as tmp:
        constraints = Path(tmp) / "cpu-builds.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        try:
            swapped = target.resolve([*pip_args, *options, "-c", str(constraints)])
        except LeanInstallError:
            swapped = None
    if swapped is None:
        notes = tuple(
            f"a CPU build of {d.name} {_public(d.version)} is listed on "
            f"{sources.describe(d.name)} but the request does not resolve with it: its GPU "
            "build stays, leaned by the profile"
            for d in builds
        )
        return Swapped(resolution, {}, notes)
    kept = {d.name for d in swapped.distributions}
    gone = tuple(d for d in resolution.distributions if d.name not in kept) + tuple(builds)
    return Swapped(swapped, _swaps(resolution, swapped, builds), (), tuple(options), gone)


def _offered(build: ResolvedDistribution, sources: VariantSources) -> tuple[bool, str]:
    """Whether a variant source offers ``build``'s release as ``+cpu`` (its file is listed),
    and what was looked at. One request per index, no retries: an unreachable index is
    said to be so, not waited for."""
    stem = _stem(build)
    said = []
    for directory in sources.find_links:
        path = Path(directory)
        names = [p.name for p in path.iterdir()] if path.is_dir() else []
        if any(n.startswith(stem) and n.endswith(".whl") for n in names):
            return True, directory
        said.append(f"{directory}: none")
    indexes = [
        *sources.index_urls,
        *(DEFAULT_SOURCES.get(build.name, ()) if sources.defaults else ()),
    ]
    for index in dict.fromkeys(indexes):
        page = index.rstrip("/") + f"/{build.name}/"
        try:
            text = _read(page)
        except (OSError, ValueError) as exc:
            said.append(f"{index}: unreachable ({getattr(exc, 'reason', exc)})")
            continue
        if stem in unquote(text):
            return True, index
        said.append(f"{index}: none")
    return False, "; ".join(said) or "no variant source"


def _option(source: str, sources: VariantSources) -> list[str]:
    """The pip options that add the one source that offers a build."""
    return (
        ["--find-links", source] if source in sources.find_links else ["--extra-index-url", source]
    )


def _read(url: str) -> str:
    from lean_install.fetch import local_path

    path = local_path(url)
    if path is not None:
        return (path / "index.html" if path.is_dir() else path).read_text("utf-8", "replace")
    with urllib.request.urlopen(url, timeout=15) as response:
        return str(response.read().decode("utf-8", "replace"))


def _swaps(
    before: Resolution, after: Resolution, builds: Sequence[ResolvedDistribution]
) -> dict[NormalizedName, Swap]:
    kept = {d.name for d in after.distributions}
    dropped = [d for d in before.distributions if d.name not in kept]
    swaps = {}
    for build in builds:
        new = after.distribution(build.name)
        if new is None:
            continue
        download = sum(_size(d) for d in (build, *dropped)) - _size(new)
        swaps[build.name] = Swap(
            version=build.version,
            source=Source(filename=build.filename, url=build.url, sha256=build.sha256,
                          size=build.size),
            download_avoided=max(download, 0),
            dropped_dependencies=tuple(sorted(d.name for d in dropped)),
        )  # fmt: skip
    return swaps


def _size(dist: ResolvedDistribution) -> int:
    """The file's size: as the index said, or the local file's."""
    if dist.size is not None:
        return dist.size
    from lean_install.fetch import local_path

    path = local_path(dist.url)
    return path.stat().st_size if path is not None and path.is_file() else 0
