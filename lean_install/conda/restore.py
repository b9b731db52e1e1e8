"""Restore stripped conda packages: their original files and records, byte for byte.

Per package, from its manifest: every removed file, and every library the strip wrote
again smaller, comes back from the package cache
(``reserve``: checked against the sha256 its record says it had in the prefix, before
anything is written), hard-linked from the extracted package as conda links it when it
can be, else written; the stubs that stood for removed modules go; bytecode conda had
compiled for the package (``pyc_file``) is compiled again as conda compiles it (the
prefix's python, ``compileall`` from the prefix); the record goes back as conda wrote
it; the manifest goes last. Under the journal: a killed restore is run again by the next
command.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lean_install.conda import journal
from lean_install.conda.manifest import Manifest, manifest_path, read_manifests
from lean_install.conda.records import CONDA_META, conda_meta, parse_record
from lean_install.conda.reserve import originals, place
from lean_install.conda.strip import remove_startup_hook
from lean_install.errors import CondaPrefixError, RecoveryError
from lean_install.runtime import layout

__all__ = ["restore", "restore_stems", "lean_stems"]


def lean_stems(prefix: Path, names: Sequence[str]) -> tuple[str, ...]:
    """The stripped packages of ``prefix`` named ``names`` (all of them when empty)."""
    manifests = read_manifests(prefix)
    if not names:
        return tuple(sorted(manifests))
    by_name = {m.name: stem for stem, m in manifests.items()}
    unknown = [n for n in names if n not in by_name and n not in manifests]
    if unknown:
        lean = ", ".join(sorted(by_name)) or "none"
        raise CondaPrefixError(
            f"{', '.join(unknown)}: not stripped by lean-install in {prefix} (stripped: {lean})",
            hint="conda lean restore takes the packages a conda lean strip stripped, or --all",
        )
    return tuple(by_name.get(n, n) for n in names)


def _compile(prefix: Path, sources: Sequence[str]) -> None:
    """Compile ``sources`` (prefix-relative) as conda does: the prefix's python, from it."""
    python = prefix / "bin" / "python"
    if not sources or not python.exists():
        return
    listing = "".join(f"{s}\n" for s in sources)
    subprocess.run(
        [str(python), "-Wi", "-m", "compileall", "-q", "-l", "-i", "-"],
        input=listing,
        text=True,
        cwd=prefix,
        capture_output=True,
        check=False,
    )


def _gone(prefix: Path, path: str, path_type: str) -> bool:
    """A file of the original record that is missing, or a stub (a stub's restore that was
    killed before its manifest was rewritten): it comes back too."""
    if path_type == "directory":
        return False
    return not os.path.lexists(prefix / path) or layout.is_stub_file(prefix / path)


def _restore_one(prefix: Path, manifest: Manifest) -> None:
    meta = prefix / CONDA_META / f"{manifest.stem}.json"
    original = parse_record(meta, manifest.original)
    entries = original.entries
    removed = set(manifest.removed) | set(manifest.rewritten)
    known = [p for p, e in entries.items() if p in removed or _gone(prefix, p, e.path_type)]
    found = originals(original, known, entries)  # everything in hand before any change
    for stub in manifest.stubs:
        if stub not in entries:
            (prefix / stub).unlink(missing_ok=True)
    for item in found:
        place(prefix, item)
    pyc = [p for p in known if entries[p].path_type == "pyc_file"]
    sources = [s for p in pyc if (s := layout.source_of_bytecode(p)) and (prefix / s).exists()]
    _compile(prefix, sorted(set(sources)))
    layout.write_atomically(meta, manifest.original.encode("utf-8"))
    manifest_path(prefix, manifest.stem).unlink(missing_ok=True)
    layout.fsync_directory(str(manifest_path(prefix, manifest.stem).parent))


def restore_stems(prefix: Path, stems: Sequence[str]) -> list[str]:
    """Restore the packages ``stems`` whose manifests are still there; the ones restored.

    The manifest of a package conda removed since the strip is dropped: nothing to restore.
    """
    manifests = read_manifests(prefix)
    done = []
    for stem in stems:
        if stem not in manifests:
            continue
        if not (prefix / CONDA_META / f"{stem}.json").exists():  # conda removed it since
            manifest_path(prefix, stem).unlink()
            continue
        _restore_one(prefix, manifests[stem])
        done.append(stem)
    if not read_manifests(prefix):  # nothing lean left: no startup hook either
        remove_startup_hook(prefix)
    return done


def restore(prefix: str | os.PathLike[str], names: Sequence[str] = ()) -> list[str]:
    """Restore ``names`` (every stripped package when empty) in ``prefix``; the stems.

    A package whose originals are not intact in the package cache raises a RestoreError
    before anything of it changes; the packages before it stay restored.
    """
    prefix = Path(prefix).absolute()
    conda_meta(prefix)  # a clear error when it is not a conda prefix
    if journal.pending(prefix) is not None:
        raise RecoveryError(
            f"an interrupted conda lean command left {journal.journal_path(prefix)}",
            hint=f"run conda lean restore -p {prefix} again: it completes that command first",
        )
    stems = lean_stems(prefix, names)
    if not stems:
        return []
    with layout.restore_lock(prefix):  # not while a program restores into the prefix
        journal.begin(prefix, "restore", packages=stems)
        try:
            return restore_stems(prefix, stems)
        finally:
            journal.finish(prefix)  # what is not restored is still lean, whole and recorded
