"""Trace a workload: run it under observation and turn what it touched into a profile.

The ``python`` backend injects ``_bootstrap/sitecustomize.py`` into every Python process
the workload starts (through ``PYTHONPATH``; it chains to any existing sitecustomize).
The ``strace`` backend adds ``strace -f`` on top, for files that C code opens or stats
without Python seeing it. Both write raw records into a temporary directory; this module
reads them, attributes each file to the distribution whose RECORD lists it, and builds a
:class:`~lean_install.profile.Profile`.
"""

from __future__ import annotations

import codecs
import datetime
import getpass
import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lean_install import __version__
from lean_install.conda.attribution import CondaAttribution
from lean_install.environment import Environment, InstalledDistribution
from lean_install.errors import CommandNotFoundError, EnvironmentInspectionError, ToolMissingError
from lean_install.profile import DistributionUsage, Listing, Profile, Trace, TraceEnvironment
from lean_install.runtime import layout

__all__ = [
    "Backend",
    "RawUsage",
    "TraceResult",
    "BOOTSTRAP_DIR",
    "run_workload",
    "read_python_records",
    "read_strace_log",
    "attribute",
    "trace",
]

Backend = Literal["python", "strace"]
BOOTSTRAP_DIR = Path(__file__).parent / "_bootstrap"
TRACE_DIR_VAR = "LEAN_INSTALL_TRACE_DIR"
STRACE_HINT = (
    "install strace (Debian/Ubuntu: apt-get install strace; Fedora: dnf install strace), "
    "or trace with the default backend: --backend python"
)


@dataclass
class RawUsage:
    """What a run touched, as absolute paths, before attribution."""

    loaded: set[str] = field(default_factory=set)
    probed: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    globbed: set[str] = field(default_factory=set)
    """``directory/pattern`` of each ``glob.glob`` listing: only the matches were seen."""
    read: set[str] = field(default_factory=set)
    """Module sources opened outside the import system (``torch.compile`` hashes every
    module of torch): kept as probed (a stub) unless the module was also imported."""
    executables: set[str] = field(default_factory=set)
    """Interpreters of the traced Python processes (``sys.executable``)."""
    processes: int = 0

    def update(self, other: RawUsage) -> None:
        self.loaded |= other.loaded
        self.probed |= other.probed
        self.listed |= other.listed
        self.globbed |= other.globbed
        self.read |= other.read
        self.executables |= other.executables
        self.processes = max(self.processes, other.processes)


@dataclass(frozen=True)
class TraceResult:
    profile: Profile
    exit_code: int
    raw: RawUsage
    by_backend: dict[str, RawUsage]
    environments: tuple[Environment, ...] = ()

    def by_backend_profile(self, backend: str) -> Profile:
        """What one backend alone saw, attributed: to compare backends on one run."""
        dists, _ = attribute(self.by_backend[backend], self.environments)
        return Profile(distributions=tuple(dists))


# -- running -------------------------------------------------------------------------


def _resolve_command(command: Sequence[str]) -> list[str]:
    if not command:
        raise CommandNotFoundError("(empty command)")
    program = command[0]
    found = program if "/" in program else shutil.which(program)
    if not found or not os.path.isfile(found):
        raise CommandNotFoundError(program)
    if not os.access(found, os.X_OK):
        raise CommandNotFoundError(program)
    return [program, *command[1:]]


def _traced_environment(records: Path) -> dict[str, str]:
    env = dict(os.environ)
    bootstrap = str(BOOTSTRAP_DIR)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = bootstrap + (os.pathsep + existing if existing else "")
    env[TRACE_DIR_VAR] = str(records)
    return env


def _strace_prefix(log: Path) -> list[str]:
    strace = shutil.which("strace")
    if strace is None:
        raise ToolMissingError("strace", STRACE_HINT)
    return [
        strace,
        "-f",
        "-qq",
        "-y",
        "-s",
        "4096",
        "-e",
        "trace=%file",
        "-e",
        "signal=none",
        "-o",
        str(log),
    ]


def run_workload(command: Sequence[str], records: Path, backend: Backend) -> int:
    """Run ``command`` with the tracer injected; its records land in ``records``."""
    argv = _resolve_command(command)
    if backend == "strace":
        argv = _strace_prefix(records / "strace.log") + argv
    try:
        code = subprocess.call(argv, env=_traced_environment(records))
        return 128 - code if code < 0 else code
    except FileNotFoundError:
        raise CommandNotFoundError(command[0]) from None
    except PermissionError:
        raise CommandNotFoundError(command[0]) from None


# -- reading records -----------------------------------------------------------------

_KIND_TO_SET = {"L": "loaded", "P": "probed", "D": "listed", "G": "globbed", "R": "read"}


def read_python_records(records: Path) -> RawUsage:
    """Merge the bootstrap's per-process record files."""
    usage = RawUsage()
    pids: set[str] = set()
    for file in sorted(records.glob("*.trace")):
        for record in file.read_bytes().decode("utf-8", "surrogateescape").split("\0"):
            if not record:
                continue
            kind, payload = record[0], record[1:]
            target = _KIND_TO_SET.get(kind)
            if target is not None:
                getattr(usage, target).add(os.path.normpath(payload))
            elif kind == "x":
                usage.executables.add(payload)
            elif kind == "p":
                pids.add(payload.split()[0])
    usage.processes = len(pids)
    return usage


_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<(.*)>)?")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DIRFD = re.compile(r"^(?:AT_FDCWD|\d+)<([^>]*)>")
_OPENS = {"open", "openat", "openat2", "creat", "execve", "execveat"}
_PROBES = {
    "stat",
    "lstat",
    "newfstatat",
    "fstatat64",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "stat64",
    "lstat64",
}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    raw = codecs.escape_decode(text.encode("utf-8", "surrogateescape"))[0]
    return bytes(raw).decode("utf-8", "surrogateescape")


def _strace_path(name: str, args: str, fd_path: str | None) -> str | None:
    if name in {"open", "openat", "openat2", "creat"} and fd_path:
        return fd_path
    match = _STRING.search(args)
    if not match:
        return None
    path = _unescape(match.group(1))
    if not path or path.startswith("/"):
        return path or None
    dirfd = _DIRFD.match(args)
    return os.path.join(dirfd.group(1), path) if dirfd else None


def _joined_strace_lines(log: Path) -> Iterable[str]:
    """Lines of an ``strace -f`` log with ``<unfinished ...>`` calls joined to their ends."""
    unfinished: dict[str, str] = {}
    with log.open(encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            match = _LINE.match(line.rstrip("\n"))
            if not match:
                continue
            pid, rest = match.groups()
            if rest.endswith("<unfinished ...>"):
                unfinished[pid] = rest[: -len("<unfinished ...>")].rstrip()
            elif rest.startswith("<... "):
                head = unfinished.pop(pid, None)
                if head is not None:
                    yield head + rest.split("resumed>", 1)[-1]
            else:
                yield rest


def read_strace_log(log: Path) -> RawUsage:
    """Successful opens, execs, stats, accesses and readlinks of an ``strace -f -y`` log."""
    usage = RawUsage()
    if not log.exists():
        return usage
    for line in _joined_strace_lines(log):
        call = _CALL.match(line)
        if not call or int(call.group(3)) < 0:
            continue
        name, args, _, fd_path = call.groups()
        if name not in _OPENS and name not in _PROBES:
            continue
        path = _strace_path(name, args, fd_path)
        if not path:
            continue
        path = os.path.normpath(path)
        if name in _OPENS:
            if "O_DIRECTORY" not in args:  # directory opens are the import system's listings
                usage.loaded.add(path)
        else:
            usage.probed.add(path)
    return usage


# -- attribution ---------------------------------------------------------------------


def _environments(executables: Iterable[str]) -> list[Environment]:
    envs: list[Environment] = []
    for exe in sorted(executables):
        try:
            env = Environment.inspect(exe)
        except EnvironmentInspectionError:
            continue
        if all(env.site_packages != other.site_packages for other in envs):
            envs.append(env)
    return envs


def _owner(envs: Sequence[Environment], path: str) -> tuple[InstalledDistribution, str] | None:
    """The distribution that installed the file at ``path``, and its RECORD path."""
    for env in envs:
        found = env.owner(path)
        if found:
            return found
    return None


@dataclass
class _Usage:
    dist: InstalledDistribution
    files: set[str] = field(default_factory=set)
    probed: set[str] = field(default_factory=set)
    scripts: set[str] = field(default_factory=set)


def listing_of(dist: InstalledDistribution) -> Listing:
    """Every file a distribution has, for a profile: its RECORD but bytecode (installers
    differ in recording it), its metadata and what lies outside its root."""
    return Listing.of(
        p
        for p in dist.files
        if "__pycache__/" not in p and not p.startswith("../") and not dist.is_metadata(p)
    )


GPU_DRIVER = ("libcuda.so",)
"""A process that mapped the CUDA driver library used a GPU."""


def used_gpu(raw: RawUsage) -> bool:
    return any(os.path.basename(p).startswith(GPU_DRIVER) for p in raw.loaded)


def _listed_files(listed: Iterable[str], globbed: Iterable[str]) -> set[str]:
    files: set[str] = set()
    for directory in listed:
        try:
            with os.scandir(directory) as entries:
                files.update(e.path for e in entries if e.is_file(follow_symlinks=False))
        except OSError:
            continue
    for pattern in globbed:
        directory, name = os.path.split(pattern)
        matches = glob.glob(os.path.join(glob.escape(directory), name))
        files.update(p for p in matches if os.path.isfile(p) and not os.path.islink(p))
    return files


def attribute(raw: RawUsage, envs: Sequence[Environment]) -> tuple[list[DistributionUsage], int]:
    """Split raw paths per distribution; also count the files used outside any."""
    usage: dict[tuple[str, str], _Usage] = {}
    outside = 0
    probed = raw.probed | _listed_files(raw.listed, raw.globbed) | raw.read
    # conda prefixes: files their conda-meta records list are conda packages' (kind
    # "conda"); the rest (distributions pip installed there) stay wheels, by RECORD.
    conda = CondaAttribution.for_prefixes(e.prefix for e in envs if e.prefix_kind == "conda")
    for path, loaded in [(p, True) for p in raw.loaded] + [(p, False) for p in probed]:
        if conda.add(path, loaded):
            continue
        owner = _owner(envs, path)
        if owner is None:
            outside += loaded and os.path.isfile(path)
            continue
        dist, record_path = owner
        if dist.is_metadata(record_path):
            continue
        entry = usage.setdefault((dist.name, dist.version), _Usage(dist))
        if record_path.startswith("../"):
            if loaded:
                entry.scripts.add(record_path.rsplit("/", 1)[-1])
            continue
        (entry.files if loaded else entry.probed).add(record_path)
        source = layout.source_of_bytecode(record_path) if loaded else None
        if source is not None and source in dist.file_set:
            entry.files.add(source)
    dists = [
        DistributionUsage(
            name=name,  # type: ignore[arg-type]  # names from Environment are normalized
            version=version,
            files=tuple(u.files),
            probed=tuple(u.probed),
            scripts=tuple(u.scripts),
            listing=listing_of(u.dist),
        )
        for (name, version), u in usage.items()
    ]
    return dists + conda.usages(), outside


# -- the whole job -------------------------------------------------------------------


def _trace_environment(envs: Sequence[Environment]) -> TraceEnvironment:
    env = envs[0] if envs else Environment.inspect(None)
    return TraceEnvironment(
        python=env.python,
        implementation=env.implementation,
        platform=env.platform,
        prefix_kind=env.prefix_kind,
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def trace(command: Sequence[str], *, backend: Backend = "python") -> TraceResult:
    """Run ``command`` under observation and build a profile of what it used."""
    with tempfile.TemporaryDirectory(prefix="lean-install-trace-") as tmp:
        records = Path(tmp)
        exit_code = run_workload(command, records, backend)
        by_backend = {"python": read_python_records(records)}
        if backend == "strace":
            by_backend["strace"] = read_strace_log(records / "strace.log")
    raw = RawUsage()
    for part in by_backend.values():
        raw.update(part)
    envs = _environments(raw.executables)
    dists, outside = attribute(raw, envs)
    record = Trace(
        command=tuple(command),
        exit_code=exit_code,
        backend=backend,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        tool=f"lean-install {__version__}",
        user=_user(),
        processes=raw.processes,
        outside_files=outside,
        gpu=used_gpu(raw),
        environment=_trace_environment(envs),
    )
    profile = Profile(traces=(record,), distributions=tuple(dists))
    return TraceResult(
        profile=profile,
        exit_code=exit_code,
        raw=raw,
        by_backend=by_backend,
        environments=tuple(envs),
    )
