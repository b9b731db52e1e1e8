"""The manifest of a stripped conda package: ``PREFIX/lean-install/conda/<stem>.json``.

It keeps what the strip removed (prefix-relative paths), the stubs it wrote, the profile
it followed, and the package's record as conda wrote it before the strip (``original``):
``restore`` puts that record back once the files are back. It lives outside
``conda-meta`` (conda reads every ``*.json`` there as a record). The type is
``runtime.conda_records.CondaManifest`` (the on-miss reserve reads and rewrites it inside
programs); this module is how lean-install reads it, refusing a damaged one.
"""

from __future__ import annotations

import os
from typing import Any

from lean_install.errors import Issue, RecordError
from lean_install.runtime.conda_records import (
    MANIFEST_VERSION,
    CondaManifest,
    manifest_dir,
    manifest_path,
)

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "manifest_dir",
    "manifest_path",
    "load_manifest",
    "read_manifest",
    "read_manifests",
]

Manifest = CondaManifest


def load_manifest(data: Any, source: str) -> Manifest:
    """The manifest ``data`` (parsed JSON, from ``source``); a RecordError naming every
    problem."""
    issues: list[Issue] = []
    manifest = Manifest.from_dict(data, issues)
    if issues:
        raise RecordError(
            source, issues, hint="lean-install wrote this manifest; it cannot restore from it"
        )
    return manifest


def read_manifest(path: str | os.PathLike[str]) -> Manifest | None:
    """The manifest in ``path``, None if there is none; a RecordError if it is damaged."""
    manifest, issues = Manifest.read(path)
    if issues:
        raise RecordError(
            os.fspath(path),
            issues,
            hint="lean-install wrote this manifest; it cannot restore from it",
        )
    return manifest


def read_manifests(prefix: str | os.PathLike[str]) -> dict[str, Manifest]:
    """Every manifest of ``prefix``, by package stem."""
    found = {}
    directory = manifest_dir(prefix)
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            manifest = read_manifest(path)
            if manifest is not None:
                found[manifest.stem] = manifest
    return found
