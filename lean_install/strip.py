"""Strip: build the stripped wheel (or the stub distribution) a plan asks for.

A stripped wheel is the original minus ``plan.drop``, plus a stub for each of
``plan.stub_modules``, with its ``.dist-info`` renamed for the lean version, METADATA's
Version line changed (nothing else), a new RECORD and a manifest
(``lean-install.json``) saying what was removed and why. Kept members are copied as
their compressed bytes, not recompressed, while other threads check each one against
the original RECORD; new files (and the kept shared libraries a plan changes inside:
``symbols.strip``, ``fatbin.prune``) are stored uncompressed, their zeroed blocks as holes,
so the output depends on the original and the plan only (not on the zlib build): the same
inputs give the same bytes.

A stub distribution stands for a distribution the profile never used: metadata that
satisfies its dependents' requirements, and stubs for its top-level modules.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.version import InvalidVersion, Version

from lean_install import __version__, library
from lean_install.cache import file_sha256
from lean_install.errors import WheelError
from lean_install.plan import DistributionPlan
from lean_install.runtime import layout
from lean_install.runtime.layout import MANIFEST_NAME, record_hash
from lean_install.runtime.records import Manifest, Original
from lean_install.stubs import module_stub, runtime_files, startup_file, startup_hook, stub_path
from lean_install.wheel import Member, OriginalWheel
from lean_install.zipwriter import ZipWriter

__all__ = [
    "MANIFEST_NAME",
    "STUB_SUMMARY",
    "build_stripped_wheel",
    "build_stub_distribution",
    "stripped_filename",
    "stub_distribution_filename",
]

STUB_SUMMARY = "stub installed by lean-install: the usage profile never used this distribution"

_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
"""Signatures of the original RECORD: no longer true of the stripped wheel, left out."""
_UNHASHED = ("RECORD", *_SIGNATURES)

Content = Member | bytes
"""A file of the output: an original member (copied raw) or new bytes."""


def build_stripped_wheel(original: Path, plan: DistributionPlan, out_dir: Path) -> Path:
    """Write the stripped wheel of ``original`` for ``plan`` into ``out_dir``; return its path.

    Raises ``WheelError`` if the original is unsafe, a member does not match RECORD, or
    the plan does not fit the wheel; no output is left behind then.
    """
    with OriginalWheel.open(original) as wheel:
        issues = _plan_issues(wheel, plan)
        if issues:
            raise WheelError(str(original), issues)
        target = Path(out_dir) / stripped_filename(wheel, plan)
        _write_atomically(target, lambda fd: _write_stripped(wheel, plan, fd))
    return target


def build_stub_distribution(plan: DistributionPlan, out_dir: Path, *, summary: str = "") -> Path:
    """Write the stub distribution of ``plan`` (decision ``stub``) into ``out_dir``.

    ``summary`` replaces the default Summary line (``STUB_SUMMARY``).
    """
    target = Path(out_dir) / stub_distribution_filename(plan)
    issues = [issue for module in plan.stub_modules if (issue := _module_name_issue(module))]
    if issues:
        raise WheelError(target.name, issues)
    dist_info = f"{_escape(plan.name)}-{plan.lean_version}.dist-info"
    files: list[tuple[str, Content]] = [
        (stub_path(module, package=True), _stub_source(plan, module, dist_info, package=True))
        for module in plan.stub_modules
    ]
    files += [
        (f"{dist_info}/METADATA", _stub_metadata(plan, summary or STUB_SUMMARY)),
        (f"{dist_info}/WHEEL", _stub_wheel_file()),
        *_runtime_files(dist_info),
        (f"{dist_info}/{MANIFEST_NAME}", _manifest(plan, original=None, removed={})),
    ]
    _write_atomically(target, lambda fd: _write_new(files, dist_info, fd))
    return target


def _runtime_files(dist_info: str) -> list[tuple[str, Content]]:
    """The runtime, which every lean distribution with stubs carries in its ``.dist-info``."""
    return [
        (f"{dist_info}/{layout.RUNTIME_DIRECTORY}/{name}", data) for name, data in runtime_files()
    ]


def stripped_filename(wheel: OriginalWheel, plan: DistributionPlan) -> str:
    build = f"-{wheel.build}" if wheel.build else ""
    return f"{wheel.dist}-{plan.lean_version}{build}-{wheel.tags}.whl"


def stub_distribution_filename(plan: DistributionPlan) -> str:
    return f"{_escape(plan.name)}-{plan.lean_version}-py3-none-any.whl"


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


# -- planning the output --------------------------------------------------------------------


def _plan_issues(wheel: OriginalWheel, plan: DistributionPlan) -> list[str]:
    """Why ``plan`` cannot be carried out on ``wheel`` (empty if it can)."""
    issues = []
    if plan.decision not in ("strip", "swap"):
        issues.append(f"the plan's decision for {plan.name} is {plan.decision}, not strip")
    if plan.name != wheel.project or not _same_version(plan.version, wheel.version):
        issues.append(
            f"the plan is for {plan.name} {plan.version}, the wheel is {wheel.name} {wheel.version}"
        )
    for path in plan.drop:
        if path not in wheel.members:
            issues.append(f"the plan drops {path}, which the wheel does not contain")
        elif path.split("/", 1)[0] == wheel.dist_info:
            issues.append(f"the plan drops {path}: the .dist-info is always kept")
    dropped = set(plan.drop)
    for module in plan.stub_modules:
        issue = _module_name_issue(module)
        path = _stub_path_in(wheel, module)
        if not issue and path in wheel.members and path not in dropped:
            issue = f"the plan stubs {module} but keeps {path}"
        if issue:
            issues.append(issue)
    return issues


def _same_version(first: str, second: str) -> bool:
    try:
        return Version(first) == Version(second)
    except InvalidVersion:
        return first == second


def _module_name_issue(module: str) -> str | None:
    if all(part.isidentifier() for part in module.split(".")):
        return None
    return f"{module!r} is not a dotted module name"


def _stub_path_in(wheel: OriginalWheel, module: str) -> str:
    package = stub_path(module, package=True) in wheel.members
    return stub_path(module, package=package)


def _stub_source(plan: DistributionPlan, module: str, dist_info: str, *, package: bool) -> bytes:
    source = module_stub(
        module,
        plan.name,
        plan.version,
        plan.profile_label,
        dist_info=dist_info,
        package=package,
    )
    return source.encode()


def _stripped_files(wheel: OriginalWheel, plan: DistributionPlan) -> list[tuple[str, Content]]:
    """The output's files but RECORD and the manifest, in their fixed order.

    Kept members first, in the original's order; then the stubs, sorted; then the
    renamed ``.dist-info``, with METADATA's Version line changed.
    """
    dropped = set(plan.drop)
    prefix = wheel.dist_info + "/"
    files: list[tuple[str, Content]] = [
        (m.name, m)
        for m in wheel.members.values()
        if m.name not in dropped and not m.name.startswith(prefix)
    ]
    stubs = {_stub_path_in(wheel, module): module for module in plan.stub_modules}
    new_info = _lean_dist_info(wheel, plan)
    files += [
        (path, _stub_source(plan, stubs[path], new_info, package=path.endswith("/__init__.py")))
        for path in sorted(stubs)
    ]
    if plan.drop:  # removed files come back when reached: the startup hook watches for them
        files.append((startup_file(_escape(plan.name)), startup_hook(new_info).encode()))
    skipped = {"RECORD", MANIFEST_NAME, *_SIGNATURES}
    for member in wheel.members.values():
        rest = member.name[len(prefix) :]
        if not member.name.startswith(prefix) or rest in skipped:
            continue
        content: Content = member
        if rest == "METADATA":
            content = _set_version(wheel, member, plan.lean_version)
        files.append((f"{new_info}/{rest}", content))
    if stubs or plan.drop:
        files += _runtime_files(new_info)
    return files


def _lean_dist_info(wheel: OriginalWheel, plan: DistributionPlan) -> str:
    return f"{wheel.dist_info.partition('-')[0]}-{plan.lean_version}.dist-info"


def _set_version(wheel: OriginalWheel, member: Member, version: str) -> bytes:
    """METADATA with its Version header set to ``version``; every other byte kept."""
    data = wheel.read(member.name)
    end = re.search(rb"\r?\n\r?\n", data)
    head_end = end.start() if end else len(data)
    line = re.compile(rb"^Version:[^\r\n]*", re.MULTILINE | re.IGNORECASE)
    found = line.search(data, 0, head_end)
    if found is None:
        raise WheelError(str(wheel.path), [f"{member.name} has no Version line"])
    return data[: found.start()] + b"Version: " + version.encode() + data[found.end() :]


# -- writing --------------------------------------------------------------------------------


def _write_stripped(wheel: OriginalWheel, plan: DistributionPlan, fd: int) -> None:
    """Copy, verify (on other threads) and finish the stripped wheel into ``fd``."""
    files = _stripped_files(wheel, plan)
    dropped = set(plan.drop)
    originals = [
        name
        for name in wheel.members
        if name not in dropped and name.rpartition("/")[2] not in _UNHASHED
    ]
    saved: dict[str, int] = {}
    zeroed: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        verified = pool.submit(wheel.verify_members, originals)
        original_sha256 = pool.submit(file_sha256, wheel.path)
        writer = ZipWriter(fd, source=wheel.fileno)
        rows = [
            _write_file(writer, wheel.record, name, _inside(wheel, plan, content, saved, zeroed))
            for name, content in files
        ]
        verified.result()
        removed = {path: wheel.members[path].size for path in plan.drop}
        record = f"{wheel.dist_info}/RECORD"
        original = Original(
            filename=wheel.path.name,
            sha256=original_sha256.result(),
            record=record,
            record_hash=record_hash(wheel.read(record)),
        )
    manifest = _manifest(plan, original=original, removed=removed, symbol_bytes=saved,
                         fatbin_bytes=zeroed)  # fmt: skip
    new_info = _lean_dist_info(wheel, plan)
    rows.append(_write_file(writer, {}, f"{new_info}/{MANIFEST_NAME}", manifest))
    writer.add_bytes(f"{new_info}/RECORD", _record(rows, f"{new_info}/RECORD"))
    writer.finish()


def _inside(
    wheel: OriginalWheel,
    plan: DistributionPlan,
    content: Content,
    saved: dict[str, int],
    zeroed: dict[str, int],
) -> Content:
    """A kept shared library with its fatbins pruned and its symbol tables removed, where
    the plan asks and each can be done safely (noting the bytes in ``zeroed`` and
    ``saved``); any other file as it is."""
    wanted = plan.symbols or plan.gpu_archs
    if not wanted or isinstance(content, bytes) or not library.is_candidate(content.name):
        return content
    shrunk = library.shrink(
        wheel.read(content.name), symbols_too=plan.symbols, gpu_archs=plan.gpu_archs
    )
    if shrunk is None:
        return content
    if shrunk.fatbin_bytes:
        zeroed[content.name] = shrunk.fatbin_bytes
    if shrunk.symbol_bytes:
        saved[content.name] = shrunk.symbol_bytes
    return shrunk.data


def _write_file(
    writer: ZipWriter, record: Mapping[str, tuple[str, int | None]], name: str, content: Content
) -> tuple[str, str, str]:
    """Add one file; return its RECORD row (an original member keeps its RECORD line)."""
    if isinstance(content, bytes):
        writer.add_bytes(name, content)
        return name, record_hash(content), str(len(content))
    writer.add_member(name, content)
    hash_field, size = record[content.name]
    return name, hash_field, str(content.size if size is None else size)


def _write_new(files: list[tuple[str, Content]], dist_info: str, fd: int) -> None:
    writer = ZipWriter(fd, source=-1)
    rows = [_write_file(writer, {}, name, content) for name, content in files]
    writer.add_bytes(f"{dist_info}/RECORD", _record(rows, f"{dist_info}/RECORD"))
    writer.finish()


def _record(rows: Iterable[tuple[str, str, str]], record_path: str) -> bytes:
    return layout.format_record([*rows, (record_path, "", "")]).encode()


def _manifest(
    plan: DistributionPlan,
    *,
    original: Original | None,
    removed: Mapping[str, int],
    symbol_bytes: Mapping[str, int] | None = None,
    fatbin_bytes: Mapping[str, int] | None = None,
) -> bytes:
    """``lean-install.json``: what was removed from which original, by which plan and
    profile. The original's RECORD hash lets the reserve check what it brings back."""
    return Manifest(
        tool=__version__,
        name=plan.name,
        version=plan.version,
        lean_version=plan.lean_version,
        decision="stub" if plan.decision == "stub" else "strip",
        plan_digest=plan.digest(),
        profile_label=plan.profile_label,
        profile_digest=plan.profile_digest,
        original=original,
        removed=removed,
        stub_modules=plan.stub_modules,
        gpu_code=plan.gpu_code,
        symbols=symbol_bytes or {},
        fatbins=fatbin_bytes or {},
    ).dumps()


def _stub_metadata(plan: DistributionPlan, summary: str) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {plan.name}", f"Version: {plan.lean_version}"]
    lines.append(f"Summary: {' '.join(summary.split())}")
    return ("\n".join(lines) + "\n").encode()


def _stub_wheel_file() -> bytes:
    return (
        "Wheel-Version: 1.0\n"
        f"Generator: lean-install {__version__}\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    ).encode()


def _write_atomically(target: Path, write: Callable[[int], None]) -> None:
    """Stream ``target`` into a temporary file in its directory, fsync it, rename it in
    place (a wheel is written through a descriptor: ``layout.write_atomically`` takes
    bytes). The cache, which takes it over, fsyncs its directory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        try:
            write(fd)
            os.fchmod(fd, 0o644)
            os.fsync(fd)
        finally:
            os.close(fd)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
