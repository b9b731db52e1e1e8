"""Lean conda packages: ``conda lean pack`` writes a channel a fresh prefix is made from.

For each conda package of a prefix that a usage profile strips (``plan``: the rules and the
closure of ``conda lean strip``), pack builds a **lean package** from the original in the
package cache: the same name and version, the build string suffixed ``_lean<digest>``
(``1.0-0`` -> ``1.0-0_lean3f2a9c01d4``; the digest is of what was removed and of the
stubs), the files the plan keeps byte for byte as the original package has them (prefix
placeholders still in) but the kept shared libraries, which are written smaller inside as
``conda lean strip`` writes them (``library.shrink``: symbols, and with ``gpu_archs`` the
GPU code of other architectures), a stub where a removed module's package stays, and ``info/``
rewritten to match: ``paths.json`` (the kept entries as they were, the stubs with their
sha256 and size), ``files``, ``index.json`` (the new build string; dependencies as they
were), ``has_prefix`` and ``no_link`` cut to what is kept, and ``info/lean-install.json``
(the original package, the profile, what was removed). conda's own additions to an
extracted package (``info/repodata_record.json``) are left out.

A package the prefix already has stripped (``conda lean strip``) is packed as its manifest
says. Packages the profile keeps whole are copied into the channel as they are (the
archive from the package cache, when it is the one conda installed), so the channel alone
makes the whole prefix; ``lean_only`` leaves them out (then give conda the original
channel too).

A stub in a lean package cannot say ``conda lean restore`` (a prefix made from the channel
has no manifest): it names the original build, ``conda install NAME=VERSION=BUILD``.

The channel is indexed by ``channel.index_channel`` (py-rattler where it is importable,
else lean-install's own ``repodata.json`` writer). Writing
``.conda`` files needs conda-package-handling (conda ships it; ``lean-install[conda]``).
Everything is built in a temporary directory inside the output directory and moved into
place only when every package is built: a failure leaves the channel as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lean_install import __version__, library
from lean_install.backup import link_or_copy
from lean_install.conda import journal
from lean_install.conda.attribution import PrefixIndex
from lean_install.conda.channel import Indexer, index_channel
from lean_install.conda.manifest import Manifest, read_manifests
from lean_install.conda.plan import PackagePlan, Stub, library_candidates, plan_strip, stub_for
from lean_install.conda.records import PrefixRecord, parse_record
from lean_install.errors import (
    InvalidInputError,
    Issue,
    ToolMissingError,
)
from lean_install.profile import Profile

__all__ = ["PackedPackage", "PackResult", "pack", "lean_build"]

_LEFT_OUT_INFO = frozenset(
    {"repodata_record.json", "index.json", "paths.json", "files", "has_prefix", "no_link"}
)
_INFO_RECORD = "lean-install.json"


@dataclass(frozen=True, kw_only=True)
class PackedPackage:
    """One package pack wrote into the channel."""

    stem: str
    """The package in the prefix (``NAME-VERSION-BUILD``)."""
    filename: str
    """What was written, relative to the channel (``linux-64/x-1.0-0_lean....conda``)."""
    lean: bool
    """Built lean; False: copied (or re-archived) whole."""
    files: int = 0
    removed: int = 0
    stubs: int = 0
    bytes_removed: int = 0
    rewritten: int = 0
    """Kept libraries written smaller inside."""

    def describe(self) -> str:
        if not self.lean:
            return f"{self.stem}: copied whole -> {self.filename}"
        smaller = f", {self.rewritten} librar{'ies' if self.rewritten != 1 else 'y'} smaller"
        return (
            f"{self.stem}: lean -> {self.filename}: {self.removed} of {self.files} files "
            f"removed ({self.bytes_removed:,} bytes), {self.stubs} stub(s)"
            f"{smaller if self.rewritten else ''}"
        )


@dataclass(frozen=True, kw_only=True)
class PackResult:
    channel: Path
    indexer: str
    packages: tuple[PackedPackage, ...] = field(default_factory=tuple)

    def describe(self) -> list[str]:
        lines = [p.describe() for p in self.packages]
        lean = sum(p.lean for p in self.packages)
        lines.append(
            f"{lean} lean package(s), {len(self.packages) - lean} whole, in {self.channel} "
            f"(indexed with {self.indexer})"
        )
        lines.append(
            f"make a prefix from it: conda create -p NEW --override-channels "
            f"-c {self.channel.as_uri()} NAME ..."
        )
        return lines


# -- what goes into each package --------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One package to pack: its original record, what goes, the stubs (prefix paths)."""

    record: PrefixRecord
    remove: tuple[str, ...]
    stubs: tuple[Stub, ...]
    bytes_removed: int = 0
    libraries: tuple[str, ...] = ()
    """Kept libraries (prefix paths) to write smaller inside, as ``Shrinking`` says."""

    @property
    def lean(self) -> bool:
        return bool(self.remove or self.stubs or self.libraries)


@dataclass(frozen=True)
class _Shrinking:
    """What pack does inside kept libraries (``conda lean strip``'s two options)."""

    symbols: bool = True
    gpu_archs: tuple[int, ...] = ()


def _way_back(record: PrefixRecord) -> str:
    """``conda install -c CHANNEL NAME=VERSION=BUILD``: the original the lean build came from."""
    channel = record.channel
    if record.subdir and channel.endswith(f"/{record.subdir}"):
        channel = channel[: -len(record.subdir) - 1]
    where = f"-c {channel} " if channel else ""
    return (
        f"conda install {where}{record.name}={record.version}={record.build} "
        "(the full package this lean build was made from)"
    )


def _restubbed(record: PrefixRecord, paths: Sequence[str], profile: str) -> tuple[Stub, ...]:
    found = (stub_for(record, p, profile, _way_back(record)) for p in paths)
    return tuple(s for s in found if s is not None)


def _jobs(
    index: PrefixIndex, plan: Sequence[PackagePlan], manifests: Mapping[str, Manifest], label: str
) -> list[_Job]:
    jobs = []
    for package in plan:
        record = package.record
        manifest = manifests.get(record.stem)
        if manifest is not None:  # stripped in the prefix: pack it as it was stripped
            original = parse_record(record.source, manifest.original)
            stubs = _restubbed(original, manifest.stubs, manifest.profile or label)
            entries = original.entries
            size = sum(entries[p].size_in_bytes or 0 for p in manifest.removed if p in entries)
            jobs.append(_Job(original, manifest.removed, stubs, size, manifest.rewritten))
            continue
        stubs = _restubbed(record, [s.path for s in package.stubs], label)
        libraries = library_candidates(package)
        jobs.append(_Job(record, package.remove, stubs, package.bytes_removed, libraries))
    return jobs


# -- the original package ---------------------------------------------------------------------


def _cph() -> Any:
    try:
        from conda_package_handling import api
    except ImportError:
        raise ToolMissingError(
            "conda-package-handling (conda lean pack reads and writes .conda packages with it)",
            "pip install 'lean-install[conda]', or run it as `conda lean pack` (conda ships "
            "conda-package-handling)",
        ) from None
    return api


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _intact(root: Path, entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every file of ``entries`` is in ``root`` as the package has it."""
    for entry in entries:
        path = root / entry["_path"]
        if entry.get("path_type", "hardlink") == "softlink":
            if not path.is_symlink():
                return False
        elif entry.get("path_type", "hardlink") != "directory":
            expected = entry.get("sha256")
            if not path.is_file() or (expected and _sha256(path) != expected):
                return False
    return True


def _paths_json(root: Path) -> list[dict[str, Any]]:
    data = json.loads((root / "info" / "paths.json").read_text(encoding="utf-8"))
    return [dict(e) for e in data.get("paths", [])]


@contextlib.contextmanager
def _original(record: PrefixRecord, dropped: set[str]) -> Iterator[Path]:
    """The original package's tree (with its ``info/``) whose files but ``dropped``
    (package paths) are intact: the extracted package in the cache, else its archive
    extracted."""
    extracted = Path(record.extracted_package_dir) if record.extracted_package_dir else None
    if extracted is not None and (extracted / "info" / "paths.json").is_file():
        entries = [e for e in _paths_json(extracted) if e["_path"] not in dropped]
        if _intact(extracted, entries):
            yield extracted
            return
    tarball = record.package_tarball_full_path
    if not tarball or not Path(tarball).is_file():
        raise _missing(record, "its package is not in the package cache, or not intact there")
    with tempfile.TemporaryDirectory(prefix="lean-install-pack-") as tmp:
        try:
            _cph().extract(tarball, dest_dir=tmp)
        except ToolMissingError:
            raise
        except Exception as exc:  # conda_package_handling raises many kinds for a bad archive
            said = " ".join(str(exc).split())
            raise _missing(record, f"its package {tarball} is damaged ({said})") from None
        root = Path(tmp)
        entries = [e for e in _paths_json(root) if e["_path"] not in dropped]
        if not _intact(root, entries):
            raise _missing(record, f"files of {tarball} do not match its info/paths.json")
        yield root


def _missing(record: PrefixRecord, why: str) -> InvalidInputError:
    return InvalidInputError(
        record.stem,
        [f"cannot pack it: {why}"],
        hint=f"fetch it again (conda install --download-only "
        f"{record.name}={record.version}={record.build}) and pack again",
    )


# -- a lean package ---------------------------------------------------------------------------


def _package_path(record: PrefixRecord, path: str) -> str:
    """Where the file at prefix path ``path`` is inside the package."""
    entry = record.entries.get(path)
    if entry is not None:
        return entry.path
    site = record.site_packages
    if record.noarch == "python" and site and path.startswith(site + "/"):
        return "site-packages" + path[len(site) :]
    return path


def lean_build(
    build: str,
    removed: Sequence[str],
    stubs: Mapping[str, bytes],
    rewritten: Mapping[str, str] | None = None,
) -> str:
    """The build string of the lean package of ``build``: ``<build>_lean<digest>``
    (``rewritten``: package path -> sha256 of the libraries written smaller)."""
    facts: dict[str, Any] = {
        "removed": sorted(removed),
        "stubs": {p: hashlib.sha256(d).hexdigest() for p, d in sorted(stubs.items())},
    }
    if rewritten:
        facts["rewritten"] = dict(sorted(rewritten.items()))
    canon = json.dumps(facts, sort_keys=True)
    return f"{build}_lean{hashlib.sha256(canon.encode()).hexdigest()[:10]}"


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    link_or_copy(source, target)


def _info_files(root: Path) -> list[str]:
    info = root / "info"
    found = []
    for dirpath, _, filenames in os.walk(info):
        for name in filenames:
            relative = (Path(dirpath) / name).relative_to(info).as_posix()
            if relative not in _LEFT_OUT_INFO and relative != _INFO_RECORD:
                found.append(relative)
    return sorted(found)


def _lean_info(
    source: Path,
    entries: list[dict[str, Any]],
    index: dict[str, Any],
    provenance: dict[str, Any],
) -> dict[str, bytes]:
    """The rewritten ``info/`` files (name under ``info/`` -> content)."""
    paths = sorted(entries, key=lambda e: e["_path"])
    kept = {e["_path"] for e in paths}
    info: dict[str, bytes] = {
        "index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
        "paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode(),
        "files": "".join(e["_path"] + "\n" for e in paths).encode(),
        _INFO_RECORD: json.dumps(provenance, indent=1, sort_keys=True).encode(),
    }
    if (source / "info" / "has_prefix").is_file():
        info["has_prefix"] = "".join(
            f"{e['prefix_placeholder']} {e.get('file_mode', 'text')} {e['_path']}\n"
            for e in paths
            if e.get("prefix_placeholder")
        ).encode()
    no_link = source / "info" / "no_link"
    if no_link.is_file():
        lines = no_link.read_text(encoding="utf-8").splitlines()
        info["no_link"] = "".join(f"{line}\n" for line in lines if line.strip() in kept).encode()
    return info


def _shrink(
    root: Path, source: Path, kept: list[dict[str, Any]], paths: set[str], how: _Shrinking
) -> dict[str, library.Shrunk]:
    """Write the kept libraries ``paths`` (package paths) smaller under ``root``, their
    ``kept`` entries updated; what each became."""
    done = {}
    for number, entry in enumerate(kept):
        path = entry["_path"]
        if path not in paths or entry.get("prefix_placeholder"):
            continue
        shrunk = library.shrink(
            (source / path).read_bytes(), symbols_too=how.symbols, gpu_archs=how.gpu_archs
        )
        if shrunk is None:
            continue
        target = root / path
        target.unlink()  # a hard link to the package cache's file: never written through
        target.write_bytes(shrunk.data)
        target.chmod(stat.S_IMODE((source / path).stat().st_mode))
        sha256 = hashlib.sha256(shrunk.data).hexdigest()
        kept[number] = {**entry, "sha256": sha256, "size_in_bytes": len(shrunk.data)}
        done[path] = shrunk
    return done


def _build_lean(
    job: _Job, work: Path, profile: str, how: _Shrinking = _Shrinking()
) -> tuple[str, str, dict[str, Any], int]:
    """Build the lean package of ``job`` in ``work``; (subdir, file name, index.json, the
    number of libraries written smaller). A job that changes nothing re-archives the
    package unchanged, under its own build."""
    record = job.record
    removed = {
        _package_path(record, p)
        for p in job.remove
        if (e := record.entries.get(p)) is None or e.path_type != "pyc_file"
    }
    stubs = {_package_path(record, s.path): s.data for s in job.stubs}
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(_original(record, removed | set(stubs)))
        original = _paths_json(source)
        kept_entries = [
            e for e in original if e["_path"] not in removed and e["_path"] not in stubs
        ]
        root = work / "pkg"
        stub_entries = _lay_out(root, source, kept_entries, stubs)
        libraries = {_package_path(record, p) for p in job.libraries}
        shrunk = _shrink(root, source, kept_entries, libraries, how)
        rewritten = {e["_path"]: e["sha256"] for e in kept_entries if e["_path"] in shrunk}
        if job.libraries and not (removed or stubs or shrunk):  # nothing changed after all
            return (*_whole(record, work), 0)
        index = json.loads((source / "info" / "index.json").read_text(encoding="utf-8"))
        if removed or stubs or shrunk:
            build = str(index.get("build", record.build))
            index["build"] = lean_build(build, sorted(removed), stubs, rewritten)
        provenance = _provenance(record, profile, removed, stubs)
        provenance["rewritten"] = {
            p: {"symbol-bytes": s.symbol_bytes, "fatbin-bytes": s.fatbin_bytes}
            for p, s in sorted(shrunk.items())
        }
        info = _lean_info(source, kept_entries + stub_entries, index, provenance)
        for name in _info_files(source):
            _place(source / "info" / name, root / "info" / name)
        for name, data in info.items():
            (root / "info" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "info" / name).write_bytes(data)
        members = [
            e["_path"] for e in kept_entries + stub_entries if e.get("path_type") != "directory"
        ]
        members += [f"info/{n}" for n in sorted({*_info_files(source), *info})]
        filename = f"{index['name']}-{index['version']}-{index['build']}.conda"
        subdir = str(index.get("subdir") or record.subdir or "noarch")
        (work / "out").mkdir(exist_ok=True)
        _cph().create(str(root), members, str(work / "out" / filename))
    return subdir, filename, index, len(shrunk)


def _lay_out(
    root: Path, source: Path, kept: Sequence[Mapping[str, Any]], stubs: Mapping[str, bytes]
) -> list[dict[str, Any]]:
    """Put the kept files of the package at ``source`` and the stubs under ``root``; the
    ``paths.json`` entries of the stubs."""
    for entry in kept:
        if entry.get("path_type") == "directory":
            (root / entry["_path"]).mkdir(parents=True, exist_ok=True)
        else:
            _place(source / entry["_path"], root / entry["_path"])
    for path, data in stubs.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return [
        {
            "_path": p,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(d).hexdigest(),
            "size_in_bytes": len(d),
        }
        for p, d in stubs.items()
    ]


def _provenance(
    record: PrefixRecord, profile: str, removed: set[str], stubs: Mapping[str, bytes]
) -> dict[str, Any]:
    """What the lean package was made from: lean-install's ``info/`` file of it."""
    return {
        "lean-install": __version__,
        "profile": profile,
        "source": {
            k: record.raw.get(k, "")
            for k in ("name", "version", "build", "fn", "url", "md5", "sha256", "channel")
        },
        "removed": sorted(removed - set(stubs)),
        "stubs": sorted(stubs),
    }


def _whole(record: PrefixRecord, work: Path) -> tuple[str, str, dict[str, Any]]:
    """The original archive of ``record``, copied into ``work/out``; (subdir, name, index)."""
    tarball = Path(record.package_tarball_full_path) if record.package_tarball_full_path else None
    expected = record.raw.get("sha256")
    usable = tarball is not None and tarball.is_file()
    if usable and tarball is not None and isinstance(expected, str) and expected:
        usable = _sha256(tarball) == expected
    if not usable or tarball is None:  # re-archive the extracted package, unchanged
        job = _Job(record, (), ())
        subdir, filename, index, _ = _build_lean(job, work, "")
        return subdir, filename, index
    with tempfile.TemporaryDirectory(prefix="lean-install-pack-") as tmp:
        index = _read_index(tarball, Path(tmp), record)
    (work / "out").mkdir(exist_ok=True)
    _place(tarball, work / "out" / tarball.name)
    return str(index.get("subdir") or record.subdir or "noarch"), tarball.name, index


def _read_index(tarball: Path, tmp: Path, record: PrefixRecord) -> dict[str, Any]:
    extracted = Path(record.extracted_package_dir or "") / "info" / "index.json"
    if extracted.is_file():
        data: dict[str, Any] = json.loads(extracted.read_text(encoding="utf-8"))
        return data
    _cph().extract(str(tarball), dest_dir=str(tmp), components="info")
    data = json.loads((tmp / "info" / "index.json").read_text(encoding="utf-8"))
    return data


# -- the channel ------------------------------------------------------------------------------


# -- the orchestrator -------------------------------------------------------------------------


def pack(
    prefix: str | os.PathLike[str],
    profile_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    lean_only: bool = False,
    indexer: Indexer = "auto",
    symbols: bool = True,
    gpu_archs: Sequence[int] = (),
) -> PackResult:
    """Write the lean packages of ``prefix`` under the profile at ``profile_path`` (and,
    unless ``lean_only``, the others whole) into the channel ``out_dir``, indexed;
    ``symbols``, ``gpu_archs``: what happens inside the kept libraries, as in ``strip``."""
    how = _Shrinking(symbols, tuple(gpu_archs))
    prefix = Path(prefix).absolute()
    index = PrefixIndex.of(prefix)
    journal.refuse_interrupted(
        prefix, f"run conda lean strip -p {prefix} (or restore) first: it completes that command"
    )
    label = os.fspath(profile_path)
    profile = Profile.load(label)
    manifests = read_manifests(prefix)
    plan = plan_strip(index, profile, label, lean=manifests)
    jobs = [j for j in _jobs(index, plan.packages, manifests, label) if j.lean or not lean_only]
    channel = Path(out_dir).absolute()
    channel.mkdir(parents=True, exist_ok=True)
    packed: list[PackedPackage] = []
    written: dict[str, tuple[Path, dict[str, Any]]] = {}
    issues: list[Issue] = []
    with tempfile.TemporaryDirectory(dir=channel, prefix=".lean-pack-") as tmp:
        for number, job in enumerate(jobs):
            work = Path(tmp) / str(number)
            work.mkdir()
            try:
                if job.lean:
                    subdir, filename, info, rewritten = _build_lean(job, work, label, how)
                else:
                    (subdir, filename, info), rewritten = _whole(job.record, work), 0
            except InvalidInputError as error:
                issues += [Issue(job.record.stem, str(i)) for i in error.issues]
                continue
            written[f"{subdir}/{filename}"] = (work / "out" / filename, info)
            packed.append(
                PackedPackage(
                    stem=job.record.stem,
                    filename=f"{subdir}/{filename}",
                    lean=info.get("build") != job.record.build,
                    files=len(job.record.files),
                    removed=len(job.remove),
                    stubs=len(job.stubs),
                    bytes_removed=job.bytes_removed,
                    rewritten=rewritten,
                )
            )
        if issues:
            raise InvalidInputError(
                str(prefix),
                issues,
                hint="conda lean pack builds from conda's package cache; fetch the packages "
                "named again (conda install --download-only NAME=VERSION=BUILD), or pack with "
                "--lean-only",
            )
        for name, (built, _) in written.items():
            target = channel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            built.replace(target)
    used = index_channel(channel, {n: i for n, (_, i) in written.items()}, indexer)
    return PackResult(channel=channel, indexer=used, packages=tuple(packed))
