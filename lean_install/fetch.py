"""Fetching: bring the original files a plan keeps into the cache, each checked against
its sha256 before it enters.

Files already cached under their hash are not fetched again; local (``file://``) files
are linked or copied; remote ones come in one ``pip download --no-deps`` run with the
request's sources (pip knows the user's credentials, proxies and certificates). A file
whose sha256 the index did not give enters under its own hash, unchecked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.utils import NormalizedName

from lean_install.cache import Cache, file_sha256
from lean_install.errors import HashMismatchError, PipError, PlanError
from lean_install.plan import DistributionPlan, Source
from lean_install.target import TargetPip

__all__ = ["FETCHED", "fetch", "local_path"]

FETCHED = ("keep", "strip", "swap")
"""The decisions whose original is installed or stripped: the files fetched."""


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL names; None for any other URL."""
    parts = urlsplit(url)
    return Path(url2pathname(parts.path)) if parts.scheme == "file" else None


def fetch(
    plans: Sequence[DistributionPlan], cache: Cache, target: TargetPip, sources: Sequence[str]
) -> dict[NormalizedName, Path]:
    """The cached original of each of ``plans`` that has an archive to fetch."""
    found: dict[NormalizedName, Path] = {}
    remote: list[tuple[NormalizedName, Source]] = []
    for plan in plans:
        source = plan.source
        if source is None or not source.archive:
            continue
        cached = cache.original(source.sha256) if source.sha256 else None
        if cached is not None:
            found[plan.name] = cached
            continue
        path = local_path(source.url)
        if path is not None:
            found[plan.name] = cache.add_original(path, source.sha256 or file_sha256(path))
        elif urlsplit(source.url).scheme in ("http", "https"):
            remote.append((plan.name, source))
        else:
            raise PlanError(
                f"{plan.name}: {source.url} is not a file lean-install can fetch",
                hint="give a wheel, an sdist, or an index that serves them",
            )
    if remote:
        found.update(_download(remote, cache, target, sources))
    return found


def _download(
    remote: Sequence[tuple[NormalizedName, Source]],
    cache: Cache,
    target: TargetPip,
    sources: Sequence[str],
) -> dict[NormalizedName, Path]:
    found: dict[NormalizedName, Path] = {}
    with cache.temporary_directory() as scratch:
        target.download([s.url for _, s in remote], scratch, sources)
        for name, source in remote:
            saved = scratch / source.filename
            if not saved.is_file():
                raise PipError(["pip", "download"], 0, f"pip download saved no {source.filename}")
            try:
                found[name] = cache.add_original(
                    saved, source.sha256 or file_sha256(saved), move=True
                )
            except HashMismatchError as exc:
                raise HashMismatchError(source.url, exc.expected, exc.actual) from None
    return found
