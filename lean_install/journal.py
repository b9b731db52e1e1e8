"""The journal: an install that was killed is completed by the next command.

``install.apply`` writes ``<prefix>/lean-install/journal.json`` before it changes anything
in the environment and removes it when all is done. A journal left behind means a
lean-install died there (killed, power cut, Ctrl-C): ``recover`` clears what the killed
installer left half-done and runs the recorded installation again, forced, so the
environment ends as the interrupted command would have left it.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from lean_install.environment import Environment
from lean_install.errors import RecordError, RecoveryError
from lean_install.runtime import layout
from lean_install.runtime.records import read_json
from lean_install.runtime.tables import Table
from lean_install.target import Installer

__all__ = [
    "Installation",
    "Journal",
    "begin",
    "finish",
    "pending",
    "clear_interrupted",
    "is_running",
]


@dataclass(frozen=True, kw_only=True)
class Installation:
    """What ``install.apply`` hands the installer: all a journal needs to do it again."""

    installer: Installer
    sources: tuple[str, ...]
    groups: tuple[tuple[tuple[str, ...], bool], ...]
    """(pins, compile everything) per installer run."""
    reinstall: bool
    wheels: Mapping[str, str]
    """The file installed for each distribution."""
    bytecode: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per distribution whose plan chooses its bytecode, the sources to compile."""
    uninstall: tuple[str, ...] = ()
    bytecode_cache: str = ""
    """Where compiled bytecode is kept by source hash (empty: compile, keep nothing)."""

    @property
    def find_links(self) -> list[Path]:
        """The directories holding the wheels (stable cache directories, once each)."""
        return sorted({Path(p).parent for p in self.wheels.values()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "installer": self.installer,
            "sources": list(self.sources),
            "groups": [{"pins": list(pins), "compile-all": every} for pins, every in self.groups],
            "reinstall": self.reinstall,
            "wheels": dict(self.wheels),
            "bytecode": {name: list(paths) for name, paths in self.bytecode.items()},
            "uninstall": list(self.uninstall),
            "bytecode-cache": self.bytecode_cache,
        }

    @classmethod
    def from_table(cls, t: Table) -> Installation:
        groups = tuple((g.strings("pins"), g.get("compile-all", bool)) for g in t.tables("groups"))
        bytecode = t.table("bytecode", required=False)
        return cls(
            installer="uv" if t.choice("installer", ("pip", "uv")) == "uv" else "pip",
            sources=t.strings("sources", ()),
            groups=groups,
            reinstall=t.get("reinstall", bool, False),
            wheels=t.string_map("wheels"),
            bytecode={str(k): bytecode.strings(str(k)) for k in bytecode.data},
            uninstall=t.strings("uninstall", ()),
            bytecode_cache=t.get("bytecode-cache", str, ""),
        )


@dataclass(frozen=True, kw_only=True)
class Journal:
    """``<prefix>/lean-install/journal.json``: an installation under way."""

    command: tuple[str, ...]
    pid: int
    started: str
    installation: Installation

    @property
    def command_line(self) -> str:
        return " ".join(["lean-install", *self.command[1:]])

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "pid": self.pid,
            "started": self.started,
            "installation": self.installation.to_dict(),
        }

    @classmethod
    def read(cls, env: Environment) -> Journal | None:
        """The journal of ``env``, if one is there; a damaged one is a RecordError."""
        path = _path(env)
        data, issues = read_json(path)
        if data is None and not issues:
            return None
        t = Table(data if isinstance(data, dict) else {}, "", issues)
        journal = cls(
            command=t.strings("command", ()),
            pid=t.get("pid", int, 0),
            started=t.get("started", str, "?"),
            installation=Installation.from_table(t.table("installation")),
        )
        if issues:
            raise RecordError(
                path,
                issues,
                hint=f"put back the original wheels with: lean-install "
                f"restore --python {env.executable} --all, then remove {path}",
            )
        return journal


def _path(env: Environment) -> str:
    return layout.state_path(env.prefix, layout.JOURNAL_FILE)


def begin(env: Environment, installation: Installation) -> None:
    """Record ``installation`` before the environment changes."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    journal = Journal(
        command=tuple(sys.argv), pid=os.getpid(), started=now, installation=installation
    )
    layout.write_atomically(_path(env), (json.dumps(journal.to_dict(), indent=2) + "\n").encode())


def finish(env: Environment) -> None:
    """The installation is complete: nothing to recover any more."""
    Path(_path(env)).unlink(missing_ok=True)
    layout.fsync_directory(str(Path(_path(env)).parent))


def pending(env: Environment) -> Journal | None:
    """The journal of an installation that was interrupted in ``env`` (not one running now)."""
    journal = Journal.read(env)
    if journal is None:
        return None
    if is_running(journal.pid):
        raise RecoveryError(
            f"another lean-install (pid {journal.pid}) is changing {env.prefix}: "
            f"{journal.command_line}",
            hint="wait for it to finish",
        )
    missing = [p for p in journal.installation.wheels.values() if not Path(p).is_file()]
    if missing:
        raise RecoveryError(
            f"the interrupted `{journal.command_line}` cannot be completed: {missing[0]} is gone "
            "from the cache",
            hint=f"put back the original wheels with: lean-install restore --python "
            f"{env.executable} --all, then remove {_path(env)}",
        )
    return journal


def is_running(pid: int) -> bool:
    """Whether another process ``pid`` is alive (the one that holds a journal)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_interrupted(
    env: Environment, names: Iterable[str], *, stashes: bool = False
) -> list[Path]:
    """Remove the ``.dist-info`` that interrupted installs of ``names`` left; return them.

    Two kinds, both left by a pip or uv run killed half-way:

    - a ``.dist-info`` without RECORD (pip and uv write it last). pip counts the
      distribution as installed and cannot uninstall it (not even with
      ``--force-reinstall``), so a rerun or a restore would leave it broken. Other tools'
      RECORD-less ``.dist-info`` (Debian's ``INSTALLER`` says ``debian``) are left alone.
    - pip's stash of a distribution it was replacing (``~nuseddep-1.0.dist-info``, its
      METADATA still naming ``unuseddep``). pip de-duplicates by that name before it
      drops ``~`` names as invalid, so the stash can hide the installed distribution.
      The distribution is installed again right after: removing the stash finishes
      what pip's uninstall began.

    With ``stashes`` (a journal says an installer was killed here), every ``~`` entry of
    site-packages goes too: the package directories pip moved aside (``~pp`` for
    ``app``), which no installer would ever read again; and the temporary files a killed
    bytecode compilation left in ``__pycache__`` (``m.cpython-311.pyc.140217421060720``:
    ``py_compile`` writes there, then renames), and the ones pip was writing in the
    ``.dist-info`` of ``names`` (``INSTALLER5my_lfm7.tmp``: pip writes INSTALLER,
    REQUESTED, direct_url.json and RECORD next to themselves, then renames).
    """
    wanted = {canonicalize_name(n) for n in names}
    removed = []
    for root in env.site_packages:
        for entry in sorted(root.iterdir()):
            stash = stashes and entry.name.startswith("~")
            if stash or (entry.name.endswith(".dist-info") and _is_interrupted(entry, wanted)):
                _remove(entry)
                removed.append(entry)
        if stashes:
            for leftover in _killed_writes(root, wanted):
                leftover.unlink()
                removed.append(leftover)
    return removed


_PIP_WRITES = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")


def _killed_writes(root: Path, wanted: set[NormalizedName]) -> list[Path]:
    """The temporary files of writes killed before their rename, under ``root``."""
    found = [p for p in root.rglob("__pycache__/*.pyc.*") if p.suffix[1:].isdigit()]
    for info in root.glob("*.dist-info"):
        if canonicalize_name(info.name.partition("-")[0]) in wanted:
            found += [p for w in _PIP_WRITES for p in info.glob(f"{w}*.tmp")]
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _is_interrupted(info: Path, wanted: set[NormalizedName]) -> bool:
    if info.name.startswith("~"):
        return _metadata_name(info) in wanted
    name = canonicalize_name(info.name[: -len(".dist-info")].partition("-")[0])
    if name not in wanted or (info / "RECORD").exists():
        return False
    try:
        installer = (info / "INSTALLER").read_text(encoding="utf-8").strip()
    except OSError:
        installer = ""
    return installer in ("", "pip", "uv")


def _metadata_name(info: Path) -> NormalizedName | None:
    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == "name" and value.strip():
            return canonicalize_name(value.strip())
    return None
