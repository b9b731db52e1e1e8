"""The records of a conda prefix: ``conda-meta/<name>-<version>-<build>.json``.

The record type and its reader are in ``lean_install.runtime.conda_records`` (standard
library only: the on-miss reserve inside a conda prefix's python reads them too); this
module is how lean-install reads them, with one ``RecordError`` naming every problem of a
damaged record, and writes them back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lean_install.errors import CondaPrefixError, Issue, RecordError
from lean_install.runtime import layout
from lean_install.runtime.conda_records import (
    CONDA_META,
    PathEntry,
    PrefixRecord,
    record_bytes,
    record_from_data,
    record_from_text,
)
from lean_install.runtime.records import read_json

__all__ = [
    "CONDA_META",
    "PathEntry",
    "PrefixRecord",
    "conda_meta",
    "is_conda_prefix",
    "read_record",
    "parse_record",
    "read_prefix",
    "record_bytes",
    "write_record",
]


def conda_meta(prefix: str | os.PathLike[str]) -> Path:
    """``PREFIX/conda-meta``; a CondaPrefixError when ``prefix`` is not a conda prefix."""
    meta = Path(prefix) / CONDA_META
    if not meta.is_dir():
        what = "does not exist" if not Path(prefix).exists() else "has no conda-meta directory"
        raise CondaPrefixError(
            f"{prefix} is not a conda prefix: it {what}",
            hint="give the prefix of a conda environment (conda lean strip -p PREFIX, or "
            "-n NAME), or use lean-install install for a venv",
        )
    return meta


def is_conda_prefix(prefix: str | os.PathLike[str]) -> bool:
    return (Path(prefix) / CONDA_META).is_dir()


def _damaged(source: str, issues: Sequence[Issue]) -> RecordError:
    return RecordError(
        source,
        issues,
        hint="conda wrote this record; reinstall the package with conda "
        "(conda install --force-reinstall NAME) or remove the file if the package is gone",
    )


def read_record(path: str | os.PathLike[str]) -> PrefixRecord:
    """The record in ``path``; a RecordError with every problem found in it."""
    path = Path(path)
    data, issues = read_json(str(path))
    if data is None and not issues:
        issues = [Issue("", "no such file")]
    record = record_from_data(path, data, issues)
    if issues:
        raise _damaged(str(path), issues)
    return record


def parse_record(path: str | os.PathLike[str], text: str) -> PrefixRecord:
    """The record whose file ``path`` held ``text``; a RecordError if it is damaged."""
    issues: list[Issue] = []
    record = record_from_text(path, text, issues)
    if issues:
        raise _damaged(os.fspath(path), issues)
    return record


def read_prefix(prefix: str | os.PathLike[str]) -> tuple[PrefixRecord, ...]:
    """Every record of ``prefix``, by file name; one RecordError naming every damaged one."""
    meta = conda_meta(prefix)
    records, problems = [], []
    for path in sorted(meta.glob("*.json")):
        data, issues = read_json(str(path))
        record = record_from_data(path, data, issues)
        if issues:
            problems += [
                Issue(f"{path.name}: {i.where}" if i.where else path.name, i.what) for i in issues
            ]
        else:
            records.append(record)
    if problems:
        raise _damaged(str(meta), problems)
    return tuple(records)


def write_record(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Replace the record at ``path`` atomically (fsync'ed): conda reads the old or the new."""
    layout.write_atomically(path, record_bytes(data))
