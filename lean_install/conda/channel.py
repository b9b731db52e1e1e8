"""A local conda channel: ``repodata.json`` for the packages in its subdirectories.

``index_channel`` indexes with py-rattler (``rattler.index.index_fs``, in a child process:
py-rattler 0.26 can crash an interpreter that exits just after it) when it is importable,
else writes ``repodata.json`` itself from the packages' ``index.json`` (what the real
conda reads: name, version, build, dependencies, and each file's md5, sha256 and size).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from lean_install.errors import OutputError
from lean_install.runtime import layout

__all__ = ["Indexer", "SUBDIRS", "index_channel"]

Indexer = Literal["auto", "rattler", "builtin"]
SUBDIRS = ("noarch", "linux-64")
"""Made in every channel: conda refuses a channel without its platform's subdir."""


def _file_facts(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "md5": hashlib.md5(data).hexdigest(),  # conda's repodata has both digests
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


_REPODATA_KEYS = (
    "name",
    "version",
    "build",
    "build_number",
    "depends",
    "constrains",
    "license",
    "license_family",
    "subdir",
    "timestamp",
    "noarch",
    "track_features",
    "features",
    "arch",
    "platform",
)


def _builtin_index(channel: Path, indexes: Mapping[str, dict[str, Any]]) -> None:
    """Write ``repodata.json`` of each subdir: the packages already listed there that are
    still there, and ``indexes`` (channel-relative file name -> its ``index.json``)."""
    for subdir in SUBDIRS + tuple(sorted({n.split("/")[0] for n in indexes} - set(SUBDIRS))):
        directory = channel / subdir
        directory.mkdir(parents=True, exist_ok=True)
        repodata_file = directory / "repodata.json"
        repodata: dict[str, Any] = {"packages": {}, "packages.conda": {}}
        if repodata_file.is_file():
            with contextlib.suppress(ValueError, OSError):
                old = json.loads(repodata_file.read_text(encoding="utf-8"))
                for key in ("packages", "packages.conda"):
                    repodata[key] = {
                        fn: r
                        for fn, r in dict(old.get(key) or {}).items()
                        if (directory / fn).is_file()
                    }
        for name, index in indexes.items():
            sub, _, filename = name.partition("/")
            if sub != subdir:
                continue
            entry = {k: index[k] for k in _REPODATA_KEYS if k in index}
            entry.setdefault("depends", [])
            entry.update(_file_facts(directory / filename))
            key = "packages.conda" if filename.endswith(".conda") else "packages"
            repodata[key][filename] = entry
        repodata["info"] = {"subdir": subdir}
        repodata["repodata_version"] = 1
        text = json.dumps(repodata, indent=1, sort_keys=True) + "\n"
        layout.write_atomically(repodata_file, text.encode())


_RATTLER_INDEX = (
    "import asyncio, os, sys, rattler.index\n"
    "asyncio.run(rattler.index.index_fs(sys.argv[1], force=True))\n"
    "sys.stdout.flush(); sys.stderr.flush()\n"
    "os._exit(0)\n"  # py-rattler 0.26 can crash an interpreter finalizing just after
)


def index_channel(
    channel: str | os.PathLike[str],
    indexes: Mapping[str, dict[str, Any]] | None = None,
    indexer: Indexer = "auto",
) -> str:
    """Index ``channel`` (``repodata.json`` in each subdir); the indexer used.

    ``rattler``: py-rattler's ``index_fs`` (every package there); ``builtin``: written here
    from ``indexes`` (channel-relative file name -> ``index.json``) and what the old
    ``repodata.json`` lists; ``auto``: rattler when it is importable.
    """
    channel = Path(channel)
    for subdir in SUBDIRS:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    use = indexer
    if use == "auto":
        use = "rattler" if importlib.util.find_spec("rattler") is not None else "builtin"
    if use == "builtin":
        _builtin_index(channel, indexes or {})
        return "lean-install's repodata.json writer"
    proc = subprocess.run(
        [sys.executable, "-c", _RATTLER_INDEX, str(channel)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        error = OutputError(
            str(channel / "*" / "repodata.json"),
            f"py-rattler's index_fs failed (exit {proc.returncode}): {last}",
        )
        error.hint = "pack again with --indexer builtin (lean-install writes repodata.json)"
        raise error
    return "py-rattler"
