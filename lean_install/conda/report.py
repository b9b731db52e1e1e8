"""The bloat report of a conda prefix (``build_conda_report``), measured on disk into the
same ``Report`` the pip side makes (``lean_install.report``), with the same classifier
(``lean_install.classify``) and the same counting (``lean_install.measure``).

What is counted, each file once (the first owner found claims it), with its
``os.lstat`` size (regular files and symbolic links; a link counts its own size):

1. every conda package, one ``DistributionReport`` each, in the order of its
   ``conda-meta/*.json`` record's file name: the files its record's ``files`` lists
   (prefix-relative; a listed file not on disk counts as missing). The classifier sees
   a file under ``lib/pythonX.Y/site-packages/`` by its path there (as
   ``conda.plan`` does), and the package's ``*.dist-info`` (or ``*.egg-info``) directory
   is its metadata;
2. every Python distribution with a ``.dist-info`` in a ``lib/python*/site-packages``
   of the prefix that no record lists a file of (what pip installed into the prefix),
   measured as ``lean-install report --python`` measures one (``measure_distribution``);
3. every other file under the prefix: **unowned** (bytecode the prefix's python wrote
   beside a plain package's modules, leftovers), classified by its path in
   site-packages when it is there, else by its prefix-relative path.

Not counted: ``conda-meta/`` (conda's records and history), lean-install's own state
directory (``lean-install/``: manifests, journal), and, at the top of the prefix,
``pkgs/`` (the package cache of a base installation) and ``envs/`` (the other prefixes
of a base installation). So the report's total is, to the byte, the sizes of every file
and link under the prefix outside those directories.

With a profile, a conda package's **used** files are what the profile's ``kind =
"conda"`` entries for it loaded or probed (the entry at its version and build, as the
strip plan chooses it, else the entries at other versions, named in
``profile_version``), the ``.py`` of each listed ``.pyc``, and its metadata. A package
stripped by ``conda lean strip`` reports as **removed** what its manifest
(``lean-install/conda/<stem>.json``) says went, less what is back on disk (a stub does
not count as back), with the sizes the record had before the strip
(``paths_data.paths[].size_in_bytes``, which conda sets to the file's size in the
prefix).

The prefix's interpreter is never run: running it writes bytecode into the prefix. Its
version comes from its record (the ``python`` package), its site-packages from the disk.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lean_install.classify import Classifier
from lean_install.conda.manifest import Manifest, read_manifests
from lean_install.conda.plan import INTERPRETERS, _usages
from lean_install.conda.records import PrefixRecord, conda_meta, parse_record, read_prefix
from lean_install.environment import Environment
from lean_install.errors import CondaPrefixError, OutputError
from lean_install.measure import (
    Used,
    measure_distribution,
    measure_files,
    measure_unowned,
    removal_of,
    used_by,
    used_of,
)
from lean_install.report import DistributionReport, Removal, Report, ReportEnvironment
from lean_install.runtime import layout

if TYPE_CHECKING:
    from lean_install.profile import Profile

__all__ = ["EXCLUDED", "build_conda_report", "report_lines"]

EXCLUDED = ("conda-meta", layout.STATE_DIRECTORY, "pkgs", "envs")
"""Directories at the top of a prefix that a report neither counts nor enters."""

_SITE_PACKAGES = re.compile(r"^lib/python\d+\.\d+t?/site-packages/")
_METADATA_DIR = re.compile(r"^[^/]+\.(?:dist-info|egg-info)$")
_PYTHON_DIR = re.compile(r"^python(\d+)\.(\d+)(t?)$")


def _inner(path: str) -> str:
    """A prefix path as the classifier sees it: relative to site-packages when it is in
    one (``lib/python3.11/site-packages/a/b.py`` -> ``a/b.py``), else as it is."""
    match = _SITE_PACKAGES.match(path)
    return path[match.end() :] if match else path


def _classifier(name: str, files: Sequence[str]) -> Classifier:
    """The shared classifier over a conda package's files, its ``.dist-info`` (or
    ``.egg-info``) as its metadata directory."""
    inner = [_inner(p) for p in files]
    tops = {p.split("/", 1)[0] for p in inner if "/" in p}
    metadata = sorted(t for t in tops if _METADATA_DIR.match(t))
    return Classifier(name, inner, metadata[0] if metadata else "")


def _used(profile: Profile | None, record: PrefixRecord) -> Used | None:
    if profile is None:
        return None
    exact, others = _usages(profile, record, "profile")
    return used_of(exact or others, bool(exact))


def _removal(prefix: str, record: PrefixRecord, manifest: Manifest | None) -> Removal | None:
    """What a strip removed from ``record``'s package and is still gone (sizes from the
    record as it was before the strip); None for a package no manifest names."""
    if manifest is None:
        return None
    original = parse_record(record.source, manifest.original)
    removed = {}
    for path in manifest.removed:
        where = os.path.join(prefix, path)  # noqa: PTH118 - plain strings, as measure does
        if os.path.lexists(where) and not layout.is_stub_file(where):
            continue
        entry = original.entries.get(path)
        size = entry.size_in_bytes if entry is not None else None
        removed[path] = size or 0
    classifier = _classifier(record.name, original.files)
    return removal_of("strip", removed, classifier, manifest.profile, _inner)


def _measure_package(
    prefix: str,
    record: PrefixRecord,
    profile: Profile | None,
    manifest: Manifest | None,
    claimed: set[str],
) -> DistributionReport:
    return measure_files(
        name=record.name,
        version=record.version,
        root=prefix,
        paths=record.files,
        classifier=_classifier(record.name, record.files),
        used=_used(profile, record),
        claimed=claimed,
        inner=_inner,
        removed=_removal(prefix, record, manifest),
    )


def _site_packages(prefix: str) -> list[str]:
    """The prefix's ``lib/python*/site-packages`` directories, resolved, each once."""
    lib = Path(prefix, "lib")
    found: list[str] = []
    for candidate in sorted(lib.glob("python*/site-packages")) if lib.is_dir() else []:
        real = os.path.realpath(candidate)
        if _PYTHON_DIR.match(candidate.parent.name) and Path(real).is_dir() and real not in found:
            found.append(real)
    return found


def _environment(prefix: str, records: Sequence[PrefixRecord], roots: Sequence[str]) -> Environment:
    """The prefix as its records and its disk describe it (its interpreter is not run)."""
    python = next((r for r in records if r.name in INTERPRETERS), None)
    implementation = "pypy" if python is not None and python.name != "python" else "cpython"
    cache_tag = ""
    if roots:
        match = _PYTHON_DIR.match(Path(roots[0]).parent.name)
        if match:
            cache_tag = f"{implementation}-{match.group(1)}{match.group(2)}{match.group(3)}"
    return Environment(
        executable=os.path.join(prefix, "bin", "python") if python else "",  # noqa: PTH118
        python=python.version if python else "(no python package)",
        implementation=implementation,
        platform=python.subdir if python else "",
        prefix=Path(prefix),
        base_prefix=Path(prefix),
        prefix_kind="conda",
        site_packages=tuple(Path(r) for r in roots),
        stdlib=(),
        scripts=Path(prefix, "bin"),
        cache_tag=cache_tag,
    )


def build_conda_report(prefix: str | os.PathLike[str], profile: Profile | None = None) -> Report:
    """Measure the conda prefix ``prefix`` on disk, and against ``profile`` if one is given
    (see this module's docstring for what is counted and what is not).

    A directory without ``conda-meta`` is a CondaPrefixError; a damaged record a
    RecordError naming every problem.
    """
    try:
        conda_meta(prefix)
    except CondaPrefixError as error:
        raise CondaPrefixError(
            error.detail,
            hint="lean-install report --prefix needs a conda environment's prefix (with its "
            "conda-meta); for a venv: lean-install report --python VENV/bin/python",
        ) from None
    root = os.path.realpath(os.fspath(prefix))
    records = read_prefix(root)
    manifests = read_manifests(root)
    claimed: set[str] = set()
    dists = [_measure_package(root, r, profile, manifests.get(r.stem), claimed) for r in records]
    roots = _site_packages(root)
    env = _environment(root, records, roots)
    recorded = {Path(root, f).parent for r in records for f in r.files}
    for dist in env.distributions():
        if Path(dist.root, dist.dist_info) in recorded:
            continue  # a conda package's own metadata: measured with its package
        used = used_by(profile, dist.name, dist.version) if profile is not None else None
        dists.append(measure_distribution(dist, used, claimed, env.cache_tag))
    exclude = {os.path.join(root, name) for name in EXCLUDED}  # noqa: PTH118
    return Report(
        environment=ReportEnvironment(
            python=env.python, executable=env.executable, prefix=root, site_packages=tuple(roots)
        ),
        distributions=tuple(dists),
        unowned=measure_unowned([*roots, root], claimed, exclude),
        has_profile=profile is not None,
    )


def report_lines(
    prefix: str | os.PathLike[str],
    profile_path: str | None = None,
    *,
    as_json: bool = False,
    html_path: str | os.PathLike[str] | None = None,
) -> tuple[str, int]:
    """What ``lean-install report --prefix PREFIX`` prints, and its exit status: the table,
    or with ``as_json`` the JSON, or with ``html_path`` the page written there (the text
    then says where). ``profile_path``: a profile file or a bundled profile's name.

    For ``conda lean report`` (``plugin``): print the text, return the status. Errors are
    raised, not printed: a LeanInstallError (a CondaPrefixError, exit 2, for a directory
    without ``conda-meta``; an OutputError for an HTML path that cannot be written; a
    ProfileError, ...) that the caller turns into text, as ``plugin._fail`` does.
    """
    from lean_install.catalog import load_profiles

    profile, _label = load_profiles([profile_path] if profile_path else [])
    report = build_conda_report(prefix, profile)
    if html_path is not None:
        from lean_install.html import write_html

        try:
            write_html(report, Path(html_path))
        except OSError as error:
            raise OutputError(os.fspath(html_path), error.strerror or str(error)) from None
        return f"wrote {os.fspath(html_path)}", 0
    if as_json:
        return json.dumps(report.to_dict(), indent=2), 0
    from lean_install.text import render_table

    return render_table(report), 0
