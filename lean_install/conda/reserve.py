"""The reserve of a conda package: where its removed files come back from.

conda keeps every package it installed in its package cache: the archive
(``package_tarball_full_path``) and, usually, its extracted tree
(``extracted_package_dir``), whose files a prefix's files are hard links of. A file comes
back as conda made it: the package's bytes with the prefix placeholder replaced (``text``:
every occurrence; ``binary``: inside each C string, padded with NULs to its length), and
it must then have the sha256 the record says it had in the prefix. The extracted tree is
tried first; a file that is missing or altered there is taken from the archive, extracted
into a temporary directory with ``conda_package_handling`` (when it is importable). A
file neither gives intact is an error that names it; nothing is written before every
file of the package is in hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lean_install.conda.records import PathEntry, PrefixRecord
from lean_install.errors import RestoreError

__all__ = ["Original", "originals", "replace_placeholder"]


@dataclass(frozen=True)
class Original:
    """One file of a package as it was in the prefix: bytes, or a link's target."""

    path: str
    entry: PathEntry
    data: bytes | None = None
    link: str | None = None
    mode: int = 0o644
    mtime_ns: int | None = None
    source: Path | None = None
    """A file of the extracted package that is exactly this one: hard-linked, as conda does."""


def replace_placeholder(data: bytes, entry: PathEntry, prefix: str) -> bytes:
    """``data`` with ``entry``'s prefix placeholder replaced by ``prefix``, as conda does."""
    if not entry.prefix_placeholder:
        return data
    old, new = entry.prefix_placeholder.encode(), prefix.encode()
    if entry.file_mode != "binary":
        return data.replace(old, new)
    if len(new) > len(old):
        raise ValueError(f"the prefix {prefix} is longer than the placeholder of {entry.path}")

    def padded(match: re.Match[bytes]) -> bytes:
        text = match.group()
        count = text.count(old)
        return text.replace(old, new)[:-1] + b"\0" * ((len(old) - len(new)) * count) + b"\0"

    return re.sub(re.escape(old) + rb"[^\0]*\0", padded, data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(
    root: Path, path: str, entry: PathEntry, prefix: str, *, linkable: bool
) -> Original | None:
    """The original of ``entry`` from the package tree at ``root``; None if it is not
    there intact. ``linkable``: ``root`` stays (the extracted package), so a file without
    a placeholder can be hard-linked from it."""
    source = root / entry.path
    try:
        if entry.path_type == "softlink" or source.is_symlink():
            return Original(path, entry, link=str(source.readlink()))
        data = replace_placeholder(source.read_bytes(), entry, prefix)
        status = source.stat()
    except (OSError, ValueError):
        return None
    expected = entry.sha256_on_disk
    if expected and _sha256(data) != expected:
        return None
    link = source if linkable and not entry.prefix_placeholder else None
    return Original(
        path,
        entry,
        data=None if link else data,
        mode=status.st_mode & 0o777,
        mtime_ns=status.st_mtime_ns,
        source=link,
    )


@contextlib.contextmanager
def _extracted(record: PrefixRecord) -> Iterator[Path | None]:
    """The package archive extracted into a temporary directory; None without one."""
    tarball = record.package_tarball_full_path
    if not tarball or not Path(tarball).is_file():
        yield None
        return
    try:
        from conda_package_handling import api
    except ImportError:
        raise RestoreError(
            f"cannot restore {record.stem}: its extracted package is not complete and "
            f"extracting {tarball} needs conda-package-handling",
            hint="pip install 'lean-install[conda]' (conda-package-handling), or run the "
            "restore as `conda lean restore` (conda ships it)",
        ) from None
    with tempfile.TemporaryDirectory(prefix="lean-install-conda-") as tmp:
        try:
            api.extract(tarball, dest_dir=tmp)
        except Exception as exc:  # conda_package_handling raises many kinds for a bad archive
            raise RestoreError(
                f"cannot restore {record.stem}: its package {tarball} is damaged "
                f"({type(exc).__name__}: {exc}); nothing was changed",
                hint=f"fetch it again (conda clean --tarballs, then conda install "
                f"--download-only {record.name}={record.version}={record.build}) and restore "
                "again",
            ) from None
        yield Path(tmp)


def originals(
    record: PrefixRecord, paths: Sequence[str], entries: Mapping[str, PathEntry]
) -> list[Original]:
    """The original of every one of ``paths`` (prefix-relative; ``entries``: the record's
    entries before the strip), intact, or a RestoreError naming what is missing."""
    prefix = str(record.prefix)
    wanted = [p for p in paths if entries[p].path_type not in ("pyc_file", "directory")]
    found: dict[str, Original] = {}
    extracted = record.extracted_package_dir
    if extracted and Path(extracted).is_dir():
        for path in wanted:
            original = _read(Path(extracted), path, entries[path], prefix, linkable=True)
            if original is not None:
                found[path] = original
    missing = [p for p in wanted if p not in found]
    if missing:
        with _extracted(record) as root:
            for path in missing:
                original = (
                    None
                    if root is None
                    else _read(root, path, entries[path], prefix, linkable=False)
                )
                if original is not None:
                    found[path] = original
    missing = [p for p in wanted if p not in found]
    if missing:
        raise RestoreError(
            f"cannot restore {record.stem}: {len(missing)} file(s) are not intact in the "
            f"package cache (first: {missing[0]}); nothing was changed",
            hint=f"fetch the package again (conda install --download-only "
            f"{record.name}={record.version}={record.build}) and restore again, or reinstall it "
            f"with conda install --force-reinstall {record.name}",
        )
    return [found[p] for p in wanted]
