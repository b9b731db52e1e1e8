"""Strip a conda prefix: remove what a usage profile never used, under the journal.

``strip`` reads the prefix's records (every file they list must be there: a prefix in
which ``conda doctor`` already finds files missing is refused), makes the plan
(``plan.plan_strip``), and, unless it is a dry run, writes the journal and applies it:
per package, the manifest (what goes, and the record as it was), then the removals, the
stubs, the kept libraries written again smaller inside (``library.shrink``: symbols, GPU
code of other architectures; each atomically, which breaks conda's hard link, so the
package cache keeps the original), and the rewritten record, whose ``files`` and
``paths_data.paths`` list exactly what is on disk (stubs with their sha256 and size, a
rewritten library with its new ``sha256_in_prefix``), so ``conda doctor``, ``conda
list`` and ``conda remove`` keep working.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path

from lean_install import fatbin, library, stubs
from lean_install.conda import journal
from lean_install.conda.attribution import PrefixIndex
from lean_install.conda.manifest import Manifest, load_manifest, read_manifests
from lean_install.conda.plan import PackagePlan, Rewrite, StripPlan, library_candidates, plan_strip
from lean_install.conda.records import CONDA_META, PathEntry, record_bytes
from lean_install.errors import InvalidInputError, Issue, RecoveryError
from lean_install.plan import Policy, choose_policy
from lean_install.profile import Profile
from lean_install.runtime import layout

__all__ = [
    "strip",
    "site_packages",
    "install_startup_hook",
    "remove_startup_hook",
    "step_of",
    "with_rewrites",
    "install_runtime",
    "apply_strip",
    "check_complete",
]


def check_complete(index: PrefixIndex) -> None:
    """Refuse a prefix whose records list files that are not there (bytecode aside)."""
    issues = []
    prefix = Path(index.prefix)
    for record in index.records:
        for number, path in enumerate(record.files):
            if not path.endswith((".pyc", ".pyo")) and not os.path.lexists(prefix / path):
                issues.append(Issue(f"{record.stem}: files[{number}]", f"{path} is missing"))
    if issues:
        raise InvalidInputError(
            str(prefix / CONDA_META),
            issues,
            hint="conda doctor -p PREFIX lists them too; put them back first (conda install "
            "--force-reinstall NAME) and strip again: lean-install strips only complete packages",
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rewrites(
    prefix: Path, package: PackagePlan, symbols: bool, gpu_archs: Sequence[int]
) -> dict[str, Rewrite]:
    """What writing ``package``'s kept libraries again smaller would give, each read from
    the prefix; a library that is not as its record says, or that nothing shrinks, stays."""
    found = {}
    for path in library_candidates(package):
        target = prefix / path
        if target.is_symlink() or not target.is_file():
            continue
        data = target.read_bytes()
        if _sha256(data) != package.record.entries[path].sha256_on_disk:
            continue
        shrunk = library.shrink(data, symbols_too=symbols, gpu_archs=gpu_archs)
        if shrunk is not None:
            found[path] = Rewrite(
                sha256=_sha256(shrunk.data),
                size=len(shrunk.data),
                symbol_bytes=shrunk.symbol_bytes,
                fatbin_bytes=shrunk.fatbin_bytes,
            )
    return found


def with_rewrites(plan: StripPlan, *, symbols: bool, gpu_archs: Sequence[int] = ()) -> StripPlan:
    """``plan`` with the rewrites of the kept libraries (none when neither is asked)."""
    if not symbols and not gpu_archs:
        return plan
    packages = tuple(
        replace(p, rewrites=_rewrites(plan.prefix, p, symbols, gpu_archs)) for p in plan.packages
    )
    return replace(plan, packages=packages, symbols=symbols, gpu_archs=tuple(gpu_archs))


def step_of(package: PackagePlan, profile: str, plan: StripPlan) -> journal.StripStep:
    """What applying ``package``'s plan (one of ``plan``'s) writes, all of it."""
    record = package.record
    stubs = {s.path: s for s in package.stubs}
    removed = set(package.remove)
    files = [f for f in record.files if f not in removed or f in stubs]
    files += [p for p in stubs if p not in record.files]
    paths: list[PathEntry] = []
    for entry in record.paths:
        path = record.prefix_path(entry)
        if path in stubs:
            stub = stubs.pop(path)
            paths.append(PathEntry.for_file(path, stub.sha256, len(stub.data)))
        elif path in package.rewrites:
            new = package.rewrites[path]
            raw = {**entry.raw, "sha256_in_prefix": new.sha256, "size_in_bytes": new.size}
            paths.append(
                replace(entry, sha256_in_prefix=new.sha256, size_in_bytes=new.size, raw=raw)
            )
        elif path not in removed:
            paths.append(entry)
    paths += [PathEntry.for_file(p, s.sha256, len(s.data)) for p, s in stubs.items()]
    manifest = Manifest(
        stem=record.stem,
        name=record.name,
        profile=profile,
        removed=package.remove,
        stubs=tuple(s.path for s in package.stubs),
        original=record.source.read_text(encoding="utf-8"),
        rewritten=tuple(package.rewrites),
    )
    return journal.StripStep(
        stem=record.stem,
        remove=package.remove,
        stubs={s.path: s.text for s in package.stubs},
        record=record.to_dict(files, paths),
        manifest=manifest.to_dict(),
        rewrite={p: r.sha256 for p, r in package.rewrites.items()},
        symbols=plan.symbols,
        gpu_archs=plan.gpu_archs,
    )


def _rewrite(prefix: Path, path: str, step: journal.StripStep) -> None:
    """Write the kept library at ``path`` again smaller, as ``step`` says (done already:
    nothing to do); anything but the original or the result is refused."""
    target = prefix / path
    data = target.read_bytes()
    wanted = step.rewrite[path]
    if _sha256(data) == wanted:
        return
    shrunk = library.shrink(data, symbols_too=step.symbols, gpu_archs=step.gpu_archs)
    if shrunk is None or _sha256(shrunk.data) != wanted:
        raise RecoveryError(
            f"{target} changed since conda lean strip read it: it is neither the library "
            f"its record names nor the one the strip writes",
            hint=f"remove {journal.journal_path(prefix)}, reinstall {step.stem} (conda "
            "install --force-reinstall NAME) and strip again",
        )
    layout.write_atomically(target, shrunk.data, stat.S_IMODE(target.stat().st_mode))
    if shrunk.fatbin_bytes:
        fatbin.sparsify(str(target))


def _remove(prefix: Path, path: str, keep_dirs: set[str]) -> None:
    """Remove one file (a link: the link), then the directories it leaves empty."""
    target = prefix / path
    if target.is_dir() and not target.is_symlink():
        return  # a directory conda made: never removed with its contents
    target.unlink(missing_ok=True)
    parent = target.parent
    while parent != prefix and parent.relative_to(prefix).as_posix() not in keep_dirs:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def site_packages(prefix: Path) -> list[Path]:
    """The site-packages directories of ``prefix`` (one where it has a python)."""
    return sorted(p for p in prefix.glob("lib/python*/site-packages") if p.is_dir())


def install_startup_hook(prefix: Path) -> None:
    """Write ``site-packages/lean-install-conda.pth``: every python of the prefix then
    loads the startup hook, which brings back removed files that programs open or list
    (``runtime.hook.install_conda``). No record lists it; ``restore`` removes it with the
    last manifest."""
    text = stubs.conda_startup_hook().encode()
    for site in site_packages(prefix):
        target = site / stubs.CONDA_STARTUP_FILE
        if not target.is_file() or target.read_bytes() != text:
            layout.write_atomically(target, text)


def remove_startup_hook(prefix: Path) -> None:
    for site in site_packages(prefix):
        (site / stubs.CONDA_STARTUP_FILE).unlink(missing_ok=True)


def install_runtime(prefix: Path) -> None:
    """Copy the runtime (``lean_install/runtime``, standard library only) to
    ``PREFIX/lean-install/runtime/<digest>/``, where the prefix's stubs and startup hook
    load it from, and compile its bytecode with the prefix's python; files already there
    as they should be are left alone."""
    directory = prefix / stubs.conda_runtime_directory()
    written = False
    for name, data in stubs.runtime_files(conda=True):
        target = directory / name
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass
        layout.write_atomically(target, data)
        written = True
    python = prefix / "bin" / "python"
    if written and python.exists():  # the startup hook loads it in every interpreter; -B:
        # no bytecode of the modules compileall itself imports (the prefix keeps its files)
        subprocess.run([str(python), "-B", "-I", "-m", "compileall", "-q", str(directory)],
                       capture_output=True, check=False)  # fmt: skip


def apply_strip(
    prefix: Path, steps: tuple[journal.StripStep, ...], on_step: Callable[[str], None] | None = None
) -> None:
    """Carry out ``steps`` (again: every step can run twice)."""
    if any(step.stubs or step.remove for step in steps):
        install_runtime(prefix)
        install_startup_hook(prefix)
    for step in steps:
        manifest = load_manifest(dict(step.manifest), f"journal step {step.stem}")
        manifest.write(prefix)
        keep_dirs = {f.rsplit("/", 1)[0] for f in step.record.get("files", []) if "/" in f}
        for path in step.remove:
            if path not in step.stubs:
                _remove(prefix, path, keep_dirs)
        for path, text in step.stubs.items():
            layout.write_atomically(prefix / path, text.encode())
        for path in step.rewrite:
            _rewrite(prefix, path, step)
        layout.write_atomically(
            prefix / CONDA_META / f"{step.stem}.json", record_bytes(step.record)
        )
        if on_step is not None:
            on_step(step.stem)


def strip(
    prefix: str | os.PathLike[str],
    profile_path: str | os.PathLike[str] | None,
    *,
    policy: Policy | None = None,
    dry_run: bool = False,
    only: Collection[str] | None = None,
    symbols: bool = True,
    gpu_archs: Sequence[int] = (),
) -> StripPlan:
    """Strip ``prefix`` as the profile at ``profile_path`` and ``policy`` say (no profile:
    the safe policy, ``plan.choose_policy``); the plan it followed. ``only``: the package
    stems that may be stripped (None: every package); ``symbols``: kept libraries lose
    their symbol tables; ``gpu_archs``: their fatbins keep only the code these GPU
    architectures load (``fatbin.archs``).

    A prefix with an interrupted command's journal is refused: ``commands.strip_prefix``
    completes that first.
    """
    prefix = Path(prefix).absolute()
    index = PrefixIndex.of(prefix)
    journal.refuse_interrupted(
        prefix, f"run conda lean strip -p {prefix} again: it completes that command first"
    )
    check_complete(index)
    profile = Profile.load(os.fspath(profile_path)) if profile_path is not None else None
    chosen = choose_policy(profile, policy)
    label = os.fspath(profile_path) if profile_path is not None else f"({chosen} policy)"
    lean = read_manifests(prefix)
    plan = plan_strip(index, profile, label, policy=chosen, lean=lean, only=only)
    plan = with_rewrites(plan, symbols=symbols, gpu_archs=gpu_archs)
    if dry_run or not plan.changed:
        return plan
    steps = tuple(step_of(p, label, plan) for p in plan.changed)
    with layout.restore_lock(prefix):  # not while a program restores into the prefix
        journal.begin(prefix, "strip", steps=steps)
        apply_strip(prefix, steps)
        journal.finish(prefix)
    return plan
