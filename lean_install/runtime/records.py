"""The records lean-install keeps in an environment, each a type with a validating reader.

- ``Manifest``: ``<dist-info>/lean-install.json`` of each lean distribution: what was
  removed (``removed``: wheel paths and sizes), from which original, by which plan;
- ``State``: ``<prefix>/lean-install/state.json``: the cache, the on-miss mode, and per
  lean distribution the original it came from (for ``restore`` and the reserve);
- ``Miss``: one line of ``<prefix>/lean-install/misses.jsonl``: a program touched removed
  code.

Readers return the record and the issues found (``tables.Issue``): lean-install refuses a
damaged record with all of them; the runtime, inside a user's program, goes on with what
could be read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import layout
from .tables import Issue, Table

__all__ = [
    "ON_MISS_MODES",
    "DEFAULT_ON_MISS",
    "Original",
    "Manifest",
    "Installed",
    "Checks",
    "State",
    "Miss",
    "read_json",
    "append_miss",
    "log_miss",
    "read_misses",
]

ON_MISS_MODES = ("restore", "error", "log")
"""What a program does when it reaches removed code: bring it back and go on, raise the
stub's ImportError, or bring it back and say so on stderr."""
DEFAULT_ON_MISS = "restore"
MAX_RECORD_BYTES = 64 * 1024 * 1024


def read_json(path: str) -> tuple[Any, list[Issue]]:
    """The JSON value in ``path``; None and the issue if it cannot be read."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None, []
    except OSError as exc:
        return None, [Issue("", exc.strerror or str(exc))]
    if len(raw) > MAX_RECORD_BYTES:
        return None, [Issue("", f"larger than {MAX_RECORD_BYTES} bytes")]
    try:
        return json.loads(raw.decode("utf-8")), []
    except (ValueError, RecursionError) as exc:
        return None, [Issue("", f"not valid JSON: {exc}")]


def _dump(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _top(data: Any, issues: list[Issue]) -> Table:
    if data is not None and not isinstance(data, dict):
        issues.append(Issue("", f"expected an object, got {type(data).__name__}"))
    return Table(data if isinstance(data, dict) else {}, "", issues)


@dataclass(frozen=True, kw_only=True)
class Original:
    """The original file a lean distribution was made from."""

    filename: str
    sha256: str = ""
    url: str = ""
    record: str = ""
    """The path of its RECORD inside the wheel (a stripped wheel's manifest only)."""
    record_hash: str = ""
    """That RECORD's own hash: the reserve checks it before trusting its rows."""

    @classmethod
    def from_table(cls, t: Table) -> Original:
        t.unknown_keys(("filename", "sha256", "url", "record", "record-hash"))
        filename = t.get("filename", str)
        if filename and ("/" in filename or filename in (".", "..")):
            t.problem("filename", f"{filename!r} is not a plain file name")
        return cls(
            filename=filename,
            sha256=t.get("sha256", str, "") or "",
            url=t.get("url", str, "") or "",
            record=t.get("record", str, ""),
            record_hash=t.get("record-hash", str, ""),
        )

    def to_dict(self) -> dict[str, str]:
        out = {"filename": self.filename, "sha256": self.sha256}
        if self.url:
            out["url"] = self.url
        if self.record:
            out |= {"record": self.record, "record-hash": self.record_hash}
        return out

    def merged(self, other: Original | None) -> Original:
        """This record, with what it lacks taken from ``other``."""
        if other is None:
            return self
        return replace(
            self,
            sha256=self.sha256 or other.sha256,
            url=self.url or other.url,
            record=self.record or other.record,
            record_hash=self.record_hash or other.record_hash,
        )


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What a lean distribution is: ``lean-install.json`` in its ``.dist-info``."""

    tool: str
    name: str
    version: str
    lean_version: str
    decision: str
    plan_digest: str = ""
    profile_label: str = ""
    profile_digest: str = ""
    original: Original | None = None
    removed: Mapping[str, int] = field(default_factory=dict)
    """Wheel paths left out, and their sizes."""
    stub_modules: tuple[str, ...] = ()
    gpu_code: bool = False
    """GPU code left out under a profile that never used a GPU: a miss is never restored
    by itself (``DistributionPlan.gpu_code``)."""
    symbols: Mapping[str, int] = field(default_factory=dict)
    """Wheel paths of the kept libraries whose symbol tables were removed, and the bytes
    that went from each."""
    fatbins: Mapping[str, int] = field(default_factory=dict)
    """Wheel paths of the kept libraries whose fatbins lost other GPUs' code, and the
    bytes zeroed in each (holes once installed)."""

    @classmethod
    def from_dict(cls, data: Any, issues: list[Issue]) -> Manifest:
        t = _top(data, issues)
        profile = t.table("profile", required=False)
        original = t.optional("original", dict)
        return cls(
            tool=t.get("lean-install", str, ""),
            name=t.get("name", str),
            version=t.get("version", str),
            lean_version=t.get("lean-version", str, ""),
            decision=t.choice("decision", ("strip", "stub", "keep")),
            plan_digest=t.get("plan-digest", str, ""),
            profile_label=profile.get("label", str, ""),
            profile_digest=profile.get("digest", str, ""),
            original=None if original is None else Original.from_table(t.table("original")),
            removed=_sizes(t, "removed", issues),
            stub_modules=t.strings("stub-modules", ()),
            gpu_code=t.get("gpu-code", bool, False),
            symbols=_sizes(t, "symbols", issues),
            fatbins=_sizes(t, "fatbins", issues),
        )

    @classmethod
    def read(cls, path: str) -> tuple[Manifest | None, list[Issue]]:
        data, issues = read_json(path)
        if data is None:
            return None, issues
        return cls.from_dict(data, issues), issues

    def to_dict(self) -> dict[str, Any]:
        return {
            "lean-install": self.tool,
            "name": self.name,
            "version": self.version,
            "lean-version": self.lean_version,
            "decision": self.decision,
            "plan-digest": self.plan_digest,
            "profile": {"label": self.profile_label, "digest": self.profile_digest},
            "original": self.original.to_dict() if self.original else None,
            "removed": dict(sorted(self.removed.items())),
            "stub-modules": list(self.stub_modules),
            **({"gpu-code": True} if self.gpu_code else {}),
            **({"symbols": dict(sorted(self.symbols.items()))} if self.symbols else {}),
            **({"fatbins": dict(sorted(self.fatbins.items()))} if self.fatbins else {}),
        }

    def dumps(self) -> bytes:
        return _dump(self.to_dict())


def _sizes(t: Table, key: str, issues: list[Issue]) -> dict[str, int]:
    """A table of safe relative paths to sizes in bytes (``removed``, ``symbols``, ...)."""
    sizes = {}
    for path, size in t.get(key, dict, {}, what="a table").items():
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            sizes[str(path)] = size
        else:
            issues.append(Issue(f"{key}.{path}", "expected a size in bytes"))
        if layout.unsafe_path_reason(str(path)):
            issues.append(Issue(f"{key}.{path}", "not a safe relative path"))
    return sizes


@dataclass(frozen=True, kw_only=True)
class Installed:
    """One lean distribution of the environment, as the state records it."""

    version: str
    lean_version: str
    decision: str
    profile: str = ""
    original: Original
    index_options: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, t: Table) -> Installed:
        return cls(
            version=t.get("version", str),
            lean_version=t.get("lean-version", str, ""),
            decision=t.get("decision", str, ""),
            profile=t.get("profile", str, ""),
            original=Original.from_table(t.table("original")),
            index_options=t.strings("index-options", ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "lean-version": self.lean_version,
            "decision": self.decision,
            "profile": self.profile,
            "original": self.original.to_dict(),
            "index-options": list(self.index_options),
        }


@dataclass(frozen=True, kw_only=True)
class Checks:
    """What verification checks of one distribution: its top-level modules the profile saw
    imported, and its libraries (paths relative to site-packages) the trace saw mapped."""

    modules: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, t: Table) -> Checks:
        t.unknown_keys(("modules", "libraries"))
        return cls(modules=t.strings("modules", ()), libraries=t.strings("libraries", ()))

    def to_dict(self) -> dict[str, list[str]]:
        return {"modules": list(self.modules), "libraries": list(self.libraries)}


@dataclass(frozen=True, kw_only=True)
class State:
    """``<prefix>/lean-install/state.json``."""

    cache: str = ""
    on_miss: str | None = None
    """As configured; None: the default (``DEFAULT_ON_MISS``)."""
    distributions: Mapping[str, Installed] = field(default_factory=dict)
    pruned: Mapping[str, str] = field(default_factory=dict)
    """Distributions ``install --prune`` uninstalled: name -> version."""
    checks: Mapping[str, Checks] = field(default_factory=dict)
    """Per distribution lean-install installed, what verifying the environment checks."""

    @property
    def mode(self) -> str:
        return self.on_miss if self.on_miss in ON_MISS_MODES else DEFAULT_ON_MISS

    @classmethod
    def from_dict(cls, data: Any, issues: list[Issue]) -> State:
        t = _top(data, issues)
        t.unknown_keys(("cache", "on-miss", "distributions", "pruned", "checks"))
        on_miss = t.optional("on-miss", str)
        if on_miss is not None and on_miss not in ON_MISS_MODES:
            t.problem("on-miss", f"{on_miss!r} is not one of {', '.join(ON_MISS_MODES)}")
            on_miss = None
        dists = t.table("distributions", required=False)
        checks = t.table("checks", required=False)
        return cls(
            cache=t.get("cache", str, ""),
            on_miss=on_miss,
            distributions={
                str(name): Installed.from_table(entry)
                for name in dists.data
                if (entry := dists.table(str(name))).data
            },
            pruned=t.string_map("pruned"),
            checks={str(name): Checks.from_table(checks.table(str(name))) for name in checks.data},
        )

    @classmethod
    def read(cls, prefix: str | os.PathLike[str]) -> tuple[State, list[Issue]]:
        data, issues = read_json(layout.state_path(prefix, layout.STATE_FILE))
        return cls.from_dict(data, issues), issues

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cache": self.cache,
            "distributions": {n: d.to_dict() for n, d in sorted(self.distributions.items())},
        }
        if self.on_miss is not None:
            out["on-miss"] = self.on_miss
        if self.pruned:
            out["pruned"] = dict(sorted(self.pruned.items()))
        if self.checks:
            out["checks"] = {n: c.to_dict() for n, c in sorted(self.checks.items())}
        return out

    def write(self, prefix: str | os.PathLike[str]) -> None:
        layout.write_atomically(layout.state_path(prefix, layout.STATE_FILE), _dump(self.to_dict()))


@dataclass(frozen=True, kw_only=True)
class Miss:
    """One time a program reached removed code, and what came of it."""

    time: str
    module: str
    """The dotted module; for a data file, the path it opened (``kind`` ``file``)."""
    distribution: str
    version: str
    kind: str = "module"
    lean_version: str = ""
    stub: str = ""
    mode: str = ""
    outcome: str = ""
    """``raised``, ``restored``, or ``failed: <reason>``."""
    files: tuple[str, ...] = ()
    """The removed files it needed (those restored, when it restored), as installed paths."""
    bytes: int = 0
    """The bytes restored."""
    source: str = ""
    argv: tuple[str, ...] = ()
    pid: int = 0
    python: str = ""

    @classmethod
    def now(cls, module: str, *, distribution: str, version: str, **fields: Any) -> Miss:
        """A miss of this process (its time, argv, pid and interpreter), as it happens."""
        import datetime  # not at every start: only when a program misses

        return cls(
            time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            module=module, distribution=distribution, version=version, argv=tuple(sys.argv),
            pid=os.getpid(), python=sys.executable, **fields,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any, issues: list[Issue]) -> Miss:
        t = _top(data, issues)
        return cls(
            time=t.get("time", str),
            module=t.get("module", str),
            distribution=t.get("distribution", str),
            version=t.get("version", str),
            kind=t.choice("kind", ("module", "file"), "module"),
            lean_version=t.get("lean-version", str, ""),
            stub=t.get("stub", str, ""),
            mode=t.get("mode", str, ""),
            outcome=t.get("outcome", str, ""),
            files=t.strings("files", ()),
            bytes=t.get("bytes", int, 0),
            source=t.get("source", str, ""),
            argv=t.strings("argv", ()),
            pid=t.get("pid", int, 0),
            python=t.get("python", str, ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "module": self.module,
            "kind": self.kind,
            "distribution": self.distribution,
            "version": self.version,
            "lean-version": self.lean_version,
            "stub": self.stub,
            "mode": self.mode,
            "outcome": self.outcome,
            "files": list(self.files),
            "bytes": self.bytes,
            "source": self.source,
            "argv": list(self.argv),
            "pid": self.pid,
            "python": self.python,
        }


def log_miss(prefix: str | os.PathLike[str], miss: Miss) -> None:
    """Append ``miss`` to the misses log of the environment at ``prefix``, unless
    ``$LEAN_INSTALL_LOG_MISSES`` is ``0``."""
    if os.environ.get("LEAN_INSTALL_LOG_MISSES") != "0":
        append_miss(prefix, miss)


def append_miss(prefix: str | os.PathLike[str], miss: Miss) -> None:
    """One JSON line per miss, appended in one write; a log that cannot be written is
    skipped (the miss itself goes on: raise or restore)."""
    line = (json.dumps(miss.to_dict(), sort_keys=True) + "\n").encode()
    path = layout.state_path(prefix, layout.MISSES_LOG)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def read_misses(prefix: str | os.PathLike[str]) -> list[Miss]:
    """The misses logged in the environment at ``prefix``, oldest first. A line that is not
    a whole miss (a process killed while appending, an edit) is skipped."""
    path = layout.state_path(prefix, layout.MISSES_LOG)
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return []
    misses = []
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        issues: list[Issue] = []
        miss = Miss.from_dict(data, issues)
        if not issues:
            misses.append(miss)
    return misses
