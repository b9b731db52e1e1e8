"""The conda journal: a strip or restore that was killed is completed by the next command.

``PREFIX/lean-install/conda-journal.json`` is written (atomically, fsync'ed) before a strip
or restore changes anything in the prefix, and removed when it is done. It holds all the
operation needs to run again: for a strip, per package, the files to remove, the stubs to
write (their text), the record to write and the manifest; for a restore, the packages.
Every step is idempotent (a removal of a file already gone, a write of what is already
there), so the next ``conda lean`` command runs the whole journal again, forward, before
it does its own work: the prefix ends as the interrupted command would have left it.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lean_install.errors import Issue, RecordError, RecoveryError
from lean_install.journal import is_running
from lean_install.runtime import layout
from lean_install.runtime.records import read_json
from lean_install.runtime.tables import Table

__all__ = [
    "JOURNAL_NAME",
    "StripStep",
    "Journal",
    "journal_path",
    "begin",
    "finish",
    "pending",
    "refuse_interrupted",
]

JOURNAL_NAME = "conda-journal.json"
Operation = Literal["strip", "restore"]


def journal_path(prefix: str | os.PathLike[str]) -> Path:
    return Path(layout.state_path(prefix, JOURNAL_NAME))


@dataclass(frozen=True, kw_only=True)
class StripStep:
    """What a strip does to one package, all of it written down beforehand."""

    stem: str
    remove: tuple[str, ...]
    stubs: Mapping[str, str]
    """Prefix-relative path -> stub text."""
    record: Mapping[str, Any]
    """The ``conda-meta`` record to write."""
    manifest: Mapping[str, Any]
    rewrite: Mapping[str, str] = field(default_factory=dict)
    """Prefix-relative path of a kept library -> the sha256 it has once written again
    smaller inside (``library.shrink`` with ``symbols`` and ``gpu_archs``)."""
    symbols: bool = False
    gpu_archs: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stem": self.stem,
            "remove": list(self.remove),
            "stubs": dict(self.stubs),
            "record": dict(self.record),
            "manifest": dict(self.manifest),
            "rewrite": dict(self.rewrite),
            "symbols": self.symbols,
            "gpu-archs": list(self.gpu_archs),
        }

    @classmethod
    def from_table(cls, t: Table) -> StripStep:
        step = cls(
            stem=t.get("stem", str),
            remove=t.strings("remove"),
            stubs=t.string_map("stubs"),
            record=t.get("record", dict),
            manifest=t.get("manifest", dict),
            rewrite=t.string_map("rewrite"),
            symbols=t.get("symbols", bool, False),
            gpu_archs=tuple(a for a in t.get("gpu-archs", list, []) if isinstance(a, int)),
        )
        named = {"remove": step.remove, "stubs": tuple(step.stubs), "rewrite": tuple(step.rewrite)}
        for key, paths in named.items():
            for path in paths:
                why = layout.unsafe_path_reason(path)
                if why:
                    t.problem(key, f"{path!r} {why}")
        return step


@dataclass(frozen=True, kw_only=True)
class Journal:
    operation: Operation
    command: tuple[str, ...]
    pid: int
    started: str
    steps: tuple[StripStep, ...] = ()
    """A strip's steps."""
    packages: tuple[str, ...] = ()
    """The stems a restore puts back."""

    @property
    def command_line(self) -> str:
        return " ".join(self.command) or f"conda lean {self.operation}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "command": list(self.command),
            "pid": self.pid,
            "started": self.started,
            "steps": [s.to_dict() for s in self.steps],
            "packages": list(self.packages),
        }

    @classmethod
    def read(cls, prefix: str | os.PathLike[str]) -> Journal | None:
        path = journal_path(prefix)
        data, issues = read_json(str(path))
        if data is None and not issues:
            return None
        t = Table(data if isinstance(data, dict) else {}, "", issues)
        if data is not None and not isinstance(data, dict):
            issues.append(Issue("", "expected a JSON object"))
        operation = t.choice("operation", ("strip", "restore"))
        journal = cls(
            operation="restore" if operation == "restore" else "strip",
            command=t.strings("command", ()),
            pid=t.get("pid", int, 0),
            started=t.get("started", str, "?"),
            steps=tuple(StripStep.from_table(s) for s in t.tables("steps")),
            packages=t.strings("packages", ()),
        )
        if issues:
            raise RecordError(
                str(path),
                issues,
                hint=f"an interrupted conda lean command left it; restore what can be with "
                f"conda lean restore -p {prefix} --all after removing {path}",
            )
        return journal


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def begin(
    prefix: str | os.PathLike[str],
    operation: Operation,
    *,
    steps: Sequence[StripStep] = (),
    packages: Sequence[str] = (),
) -> Journal:
    """Write the journal of ``operation`` before the prefix changes."""
    command = ("conda", *sys.argv[1:]) if "conda" in sys.argv[0] else tuple(sys.argv)
    journal = Journal(
        operation=operation,
        command=command,
        pid=os.getpid(),
        started=_now(),
        steps=tuple(steps),
        packages=tuple(packages),
    )
    data = (json.dumps(journal.to_dict(), indent=1) + "\n").encode()
    layout.write_atomically(journal_path(prefix), data)
    return journal


def finish(prefix: str | os.PathLike[str]) -> None:
    """The operation is complete: nothing to recover any more."""
    path = journal_path(prefix)
    path.unlink(missing_ok=True)
    layout.fsync_directory(str(path.parent))


def pending(prefix: str | os.PathLike[str]) -> Journal | None:
    """The journal of an operation interrupted in ``prefix`` (not of one running now)."""
    journal = Journal.read(prefix)
    if journal is not None and is_running(journal.pid):
        raise RecoveryError(
            f"another conda lean command (pid {journal.pid}) is changing {prefix}: "
            f"{journal.command_line}",
            hint="wait for it to finish",
        )
    return journal


def refuse_interrupted(prefix: str | os.PathLike[str], hint: str) -> None:
    """Raise if an interrupted command's journal is in ``prefix``: a command that does not
    complete it first (``commands``) must not work on a half-changed prefix."""
    if pending(prefix) is not None:
        raise RecoveryError(
            f"an interrupted conda lean command left {journal_path(prefix)}", hint=hint
        )
