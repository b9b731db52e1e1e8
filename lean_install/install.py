"""The lean install: one pipeline (resolve → plan → fetch → strip) and its last steps.

``prepare`` runs the pipeline that ``install``, ``wheel`` (and later ``lock``) share;
``install_prepared`` hands the wheels to the target's pip (or uv) with ``--no-deps``;
``restore`` puts the original wheels back. What a lean install did is recorded in
``<prefix>/lean-install/state.json`` so that ``restore`` knows where the originals are.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from packaging.utils import NormalizedName, canonicalize_name

from lean_install import __version__
from lean_install.cache import Cache
from lean_install.elf import is_shared_object_name
from lean_install.environment import Environment
from lean_install.errors import (
    PipError,
    PlanError,
    RecoveryError,
    RestoreError,
    UsageError,
)
from lean_install.plan import (
    DistributionPlan,
    Plan,
    Policy,
    decide,
    plan_wheel,
    top_level_modules,
)
from lean_install.profile import DistributionUsage, Profile
from lean_install.progress import Progress
from lean_install.reserve import ON_MISS_MODES
from lean_install.reserve_http import open_zip
from lean_install.resolve import Resolution, ResolvedDistribution, fetch, index_options, resolve
from lean_install.strip import build_stripped_wheel, build_stub_distribution
from lean_install.wheel import OriginalWheel

__all__ = [
    "Installer",
    "OnMiss",
    "on_miss_mode",
    "configure_on_miss",
    "record_pruned",
    "choose_policy",
    "Prepared",
    "prepare",
    "build_lean_wheel",
    "install_prepared",
    "choose_installer",
    "pip_check",
    "restore",
    "read_state",
    "RestoreError",
    "RecoveryError",
    "recover",
]

Installer = Literal["pip", "uv"]
OnMiss = Literal["error", "restore", "log"]
PLAN_FORMAT = 3
"""Bumped whenever plan_wheel's output changes for the same inputs: remembered plans of
another format are not reused."""
STATE_FILE = Path("lean-install") / "state.json"


@dataclass(frozen=True)
class Prepared:
    """The outcome of the pipeline: a plan and, for each installed distribution, its wheel."""

    resolution: Resolution
    plan: Plan
    wheels: dict[NormalizedName, Path] = field(default_factory=dict)
    """The file to install per distribution (omitted ones are absent)."""
    originals: dict[NormalizedName, Path] = field(default_factory=dict)


# -- the pipeline --------------------------------------------------------------------


def choose_policy(profile: Profile | None, requested: str | None) -> Policy:
    """The policy asked for, else ``profile`` with a profile and ``safe`` without."""
    policy: Policy = "profile" if profile else "safe"
    if requested in ("profile", "safe"):
        policy = requested  # type: ignore[assignment]
    if policy == "profile" and profile is None:
        raise PlanError("the profile policy needs a profile", hint="give --profile PROFILE")
    return policy


def prepare(
    env: Environment,
    pip_args: Sequence[str],
    *,
    profile: Profile | None,
    profile_label: str,
    policy: Policy,
    cache: Cache,
    progress: Progress,
    build: bool = True,
) -> Prepared:
    """Resolve, plan, fetch what is kept, and (with ``build``) strip; install nothing."""
    progress.note("resolving with " + env.executable + " -m pip")
    resolution = resolve(env, pip_args)
    for name in _profile_only(profile, resolution, env):
        progress.warn(f"the profile used {name}, which the resolution does not hold")
    preliminary = decide(resolution, profile, policy, profile_label=profile_label)
    preliminary = _name_stubs(preliminary, resolution, cache, progress)
    wanted = [d for d in resolution.distributions if preliminary[d.name].decision in _FETCHED]
    progress.step("fetching", len(wanted))
    originals = fetch(env, wanted, cache, pip_args)
    progress.step("planning and stripping", len(resolution.distributions))
    plans: list[DistributionPlan] = []
    wheels: dict[NormalizedName, Path] = {}
    mapped = _mapped_libraries(profile)
    for dist in resolution.distributions:
        usage = profile.find(dist.name) if profile else []
        plan, wheel = _carry_out(
            dist, preliminary[dist.name], originals, (usage, mapped), policy, cache, build
        )
        plans.append(plan)
        if wheel is not None:
            wheels[dist.name] = wheel
        progress.advance(dist.name)
    digest = profile.usage_digest() if profile else ""
    full = Plan(
        policy=policy,
        profile_label=profile_label,
        profile_digest=digest,
        distributions=tuple(plans),
    )
    return Prepared(resolution=resolution, plan=full, wheels=wheels, originals=originals)


_FETCHED = ("keep", "strip")


def _name_stubs(
    plans: Mapping[NormalizedName, DistributionPlan],
    resolution: Resolution,
    cache: Cache,
    progress: Progress,
) -> dict[NormalizedName, DistributionPlan]:
    """Stub distributions whose modules the profile never named take them from their
    wheel's file list (PyYAML's stub stands for ``yaml``, not ``pyyaml``).

    The list is the wheel's central directory: from the cache, or read at the wheel's
    URL with HTTP range requests (a few KiB). A wheel that cannot be listed keeps the
    guess (the name, ``-`` -> ``_``), with a warning.
    """
    out = dict(plans)
    for dist in resolution.distributions:
        plan = plans[dist.name]
        guessed = plan.stub_modules == (dist.name.replace("-", "_"),)
        if plan.decision != "stub" or not dist.is_wheel or not guessed:
            continue
        try:
            modules = top_level_modules(_wheel_names(dist, cache))
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            progress.warn(f"{dist.name}: its wheel could not be listed ({exc}); its stub "
                          f"stands for {', '.join(plan.stub_modules)}, a guess")  # fmt: skip
            continue
        if modules:
            out[dist.name] = replace(plan, stub_modules=modules)
    return out


def _wheel_names(dist: ResolvedDistribution, cache: Cache) -> list[str]:
    cached = cache.original(dist.sha256) if dist.sha256 else None
    archive = zipfile.ZipFile(cached) if cached is not None else open_zip(dist.url)[0]
    with archive:
        return archive.namelist()


def _profile_only(profile: Profile | None, resolution: Resolution, env: Environment) -> list[str]:
    """Distributions the profile used that neither the resolution nor the target holds.

    (setuptools is in most profiles: its ``.pth`` file imports ``_distutils_hack`` at
    start-up; the target's own copy serves it.)
    """
    if profile is None:
        return []
    resolved = {d.name for d in resolution.distributions}
    missing = {d.name for d in profile.distributions if d.used} - resolved
    return sorted(name for name in missing if env.distribution(name) is None)


def _mapped_libraries(profile: Profile | None) -> frozenset[str]:
    """File names of the shared libraries the profile saw loaded, in any distribution."""
    if profile is None:
        return frozenset()
    return frozenset(
        path.rsplit("/", 1)[-1]
        for dist in profile.distributions
        for path in dist.files
        if is_shared_object_name(path)
    )


Usage = tuple[Sequence[DistributionUsage], frozenset[str]]
"""A distribution's profile entries, and the shared libraries the whole profile mapped."""


def _carry_out(
    dist: ResolvedDistribution,
    preliminary: DistributionPlan,
    originals: Mapping[NormalizedName, Path],
    usage: Usage,
    policy: Policy,
    cache: Cache,
    build: bool,
) -> tuple[DistributionPlan, Path | None]:
    """The final plan of one distribution and the wheel that carries it out."""
    if preliminary.decision == "omit":
        return preliminary, None
    if preliminary.decision == "stub":
        return preliminary, _stub_wheel(preliminary, cache) if build else None
    original = originals[dist.name]
    if not dist.is_wheel:
        return preliminary, original
    plan = _plan_one(preliminary, original, usage, policy, cache)
    if plan.decision != "strip":
        return plan, original
    return plan, _stripped_wheel(plan, original, cache) if build else None


def _plan_one(
    preliminary: DistributionPlan,
    original: Path,
    usage: Usage,
    policy: Policy,
    cache: Cache,
) -> DistributionPlan:
    """``plan_wheel`` on the original, remembered in the cache for the same inputs.

    Listing a wheel validates it and may read ELF headers: for torch, seconds. The same
    original, preliminary plan, usage and policy always give the same plan.
    """
    key = _plan_key(preliminary, original, usage, policy)
    remembered = cache.plan(key)
    if remembered is not None:
        return DistributionPlan.from_dict(remembered)
    with OriginalWheel.open(original) as wheel:
        entries, mapped = usage
        plan = plan_wheel(preliminary, wheel.listing(), entries, policy, mapped=mapped)
    cache.add_plan(key, plan.to_dict())
    return plan


def _plan_key(
    preliminary: DistributionPlan,
    original: Path,
    usage: Usage,
    policy: Policy,
) -> str:
    entries, mapped = usage
    canon = json.dumps(
        [
            __version__,
            PLAN_FORMAT,
            policy,
            preliminary.to_dict(),
            [u.to_dict() for u in entries],
            sorted(mapped),
            original.parent.name,  # the original's sha256: originals/<sha256>/<file>
        ],
        sort_keys=True,
    )
    return hashlib.sha256(canon.encode()).hexdigest()


def _stripped_wheel(plan: DistributionPlan, original: Path, cache: Cache) -> Path:
    sha256 = original.parent.name  # originals/<sha256>/<file>
    cached = cache.stripped(sha256, plan.digest())
    if cached is not None:
        return cached
    with cache.temporary_directory() as tmp:
        built = build_stripped_wheel(original, plan, tmp)
        return cache.add_stripped(sha256, plan.digest(), built, move=True)


_STUB_KEY = "0" * 64  # stub distributions have no original: one namespace for all


def _stub_wheel(plan: DistributionPlan, cache: Cache) -> Path:
    cached = cache.stripped(_STUB_KEY, plan.digest())
    if cached is not None:
        return cached
    with cache.temporary_directory() as tmp:
        built = build_stub_distribution(plan, tmp)
        return cache.add_stripped(_STUB_KEY, plan.digest(), built, move=True)


def build_lean_wheel(plan: DistributionPlan, original: Path | None, cache: Cache) -> Path:
    """The file that carries out ``plan`` (cached): stripped, stub, or the original if kept.

    For ``lock``, ``sync`` and ``wheelhouse``, which take the plan from a lock instead of
    making it: the same plan and original give the same bytes as ``prepare`` builds.
    """
    if plan.decision == "stub":
        return _stub_wheel(plan, cache)
    if original is None or plan.decision == "omit":
        raise ValueError(f"{plan.name}: a {plan.decision} plan has no file without its original")
    return _stripped_wheel(plan, original, cache) if plan.decision == "strip" else original


# -- installing ----------------------------------------------------------------------


def choose_installer(requested: str) -> Installer:
    """``auto`` takes uv where it is installed (it installs several times faster)."""
    if requested in ("pip", "uv"):
        return requested  # type: ignore[return-value]
    return "uv" if _uv_binary() else "pip"


def _uv_binary() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


@contextmanager
def _wheelhouse(wheels: Mapping[NormalizedName, Path], cache: Cache) -> Iterator[Path]:
    """A directory holding exactly the wheels to install (hard links where possible)."""
    with cache.temporary_directory() as tmp:
        for path in wheels.values():
            target = tmp / path.name
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
        yield tmp


def _pins(prepared: Prepared, *, selective: bool) -> list[str]:
    """``name==version`` of the wheels to install: those whose bytecode is chosen by the
    plan (``selective``), or those compiled whole, as pip does."""
    return [
        f"{plan.name}=={plan.lean_version}"
        for plan in prepared.plan.distributions
        if plan.name in prepared.wheels and (plan.bytecode is not None) == selective
    ]


def install_prepared(
    env: Environment,
    prepared: Prepared,
    *,
    installer: Installer,
    cache: Cache,
    pip_args: Sequence[str],
    progress: Progress,
    reinstall: bool = False,
    on_miss: OnMiss | None = None,
    uninstall: Sequence[str] = (),
) -> None:
    """Install the prepared wheels into ``env`` with ``--no-deps``, by name and version,
    then uninstall the distributions named in ``uninstall`` (``sync``'s extras).

    Installing by name from a directory (not by file path) keeps ``pip freeze`` writing
    ``name==version``. ``on_miss`` (if given) becomes the environment's ``on-miss`` mode.
    The journal is written before anything in ``env`` changes and removed when all is
    done: a run killed in between is completed by the next command (``recover``).
    """
    work = _Installation(
        installer=installer,
        sources=tuple(index_options(pip_args) if _has_sdists(prepared) else ["--no-index"]),
        groups=tuple(
            (tuple(pins), compile_all)
            for compile_all in (True, False)
            if (pins := _pins(prepared, selective=not compile_all))
        ),
        reinstall=reinstall,
        wheels={name: str(path) for name, path in prepared.wheels.items()},
        bytecode={
            plan.name: plan.bytecode
            for plan in prepared.plan.distributions
            if plan.name in prepared.wheels and plan.bytecode is not None
        },
        uninstall=tuple(uninstall),
    )
    if not work.groups and not work.uninstall:
        return
    progress.step(f"installing with {installer}", sum(len(p) for p, _ in work.groups))
    for cleared in _clear_interrupted(env, prepared.wheels):
        progress.note(f"removed {cleared}: left by an interrupted install (it has no RECORD)")
    _write_journal(env, work)
    _write_state(env, prepared, pip_args, cache, on_miss)
    _carry_out_installation(env, work, cache, progress)
    _journal_path(env).unlink()


@dataclass(frozen=True)
class _Installation:
    """What ``install_prepared`` hands the installer: all a journal needs to redo it."""

    installer: Installer
    sources: tuple[str, ...]
    groups: tuple[tuple[tuple[str, ...], bool], ...]
    """(pins, compile everything) per installer run."""
    reinstall: bool
    wheels: Mapping[str, str]
    bytecode: Mapping[str, tuple[str, ...]]
    """Per distribution whose plan chooses its bytecode, the sources to compile."""
    uninstall: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "installer": self.installer,
            "sources": list(self.sources),
            "groups": [{"pins": list(pins), "compile-all": every} for pins, every in self.groups],
            "reinstall": self.reinstall,
            "wheels": dict(self.wheels),
            "bytecode": {name: list(paths) for name, paths in self.bytecode.items()},
            "uninstall": list(self.uninstall),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Installation:
        return cls(
            installer="uv" if data["installer"] == "uv" else "pip",
            sources=tuple(str(s) for s in data["sources"]),
            groups=tuple(
                (tuple(str(p) for p in g["pins"]), bool(g["compile-all"])) for g in data["groups"]
            ),
            reinstall=bool(data["reinstall"]),
            wheels={str(k): str(v) for k, v in data["wheels"].items()},
            bytecode={str(k): tuple(str(p) for p in v) for k, v in data["bytecode"].items()},
            uninstall=tuple(str(n) for n in data.get("uninstall", ())),
        )


def _carry_out_installation(
    env: Environment, work: _Installation, cache: Cache, progress: Progress
) -> None:
    wheels = {canonicalize_name(name): Path(path) for name, path in work.wheels.items()}
    with _wheelhouse(wheels, cache) as house:
        for pins, compile_all in work.groups:
            _run(_install_command(env, work.installer, house, work.sources, pins,
                                  reinstall=work.reinstall, compile_all=compile_all))  # fmt: skip
    _compile(env, work.bytecode, progress)
    if work.uninstall:  # pip skips (and says so) what is already gone: a rerun is safe
        _run([env.executable, "-m", "pip", "uninstall", "-y", "-q",
              "--disable-pip-version-check", *work.uninstall])  # fmt: skip


# -- the journal: an install that was killed is completed by the next command --------


JOURNAL_FILE = Path("lean-install") / "journal.json"


def _journal_path(env: Environment) -> Path:
    return env.prefix / JOURNAL_FILE


def _write_journal(env: Environment, work: _Installation) -> None:
    journal = {
        "command": sys.argv,
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "installation": work.to_dict(),
    }
    _write_json_atomically(_journal_path(env), journal)


def recover(env: Environment, cache: Cache, progress: Progress) -> bool:
    """Complete the install that a killed lean-install left in ``env``, if there is one.

    Every distribution it was installing is installed again (forced: a distribution pip
    was writing when it died may look complete), after the leftovers of the killed
    installer are cleared. Returns whether there was one to complete.
    """
    path = _journal_path(env)
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        work = _Installation.from_dict(journal["installation"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecoveryError(
            f"{path} (the record of an interrupted lean-install) cannot be read: {exc}",
            hint=f"put back the original wheels with: lean-install restore --python "
            f"{env.executable} --all, then remove {path}",
        ) from exc
    command = " ".join(["lean-install", *journal.get("command", [])[1:]])
    if _running(journal.get("pid")):
        raise RecoveryError(
            f"another lean-install (pid {journal['pid']}) is changing {env.prefix}: {command}",
            hint="wait for it to finish",
        )
    progress.warn(
        f"found an interrupted `{command}` (started {journal.get('started', '?')}) "
        f"in {env.prefix}: completing it"
    )
    missing = [p for p in work.wheels.values() if not Path(p).is_file()]
    if missing:
        raise RecoveryError(
            f"the interrupted install cannot be completed: {missing[0]} is gone from the cache",
            hint=f"put back the original wheels with: lean-install restore --python "
            f"{env.executable} --all, then remove {path}",
        )
    for cleared in _clear_interrupted(env, work.wheels, stashes=True):
        progress.note(f"removed {cleared}: left by the interrupted install")
    _carry_out_installation(env, replace(work, reinstall=True), cache, progress)
    path.unlink()
    progress.warn(f"completed the interrupted `{command}`")
    return True


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_interrupted(
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
    ``app``), which no installer would ever read again.
    """
    wanted = {canonicalize_name(n) for n in names}
    removed = []
    for root in env.site_packages:
        for entry in sorted(root.iterdir()):
            stash = stashes and entry.name.startswith("~")
            if stash or (entry.name.endswith(".dist-info") and _is_interrupted(entry, wanted)):
                _remove(entry)
                removed.append(entry)
    return removed


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


def _sources_to_compile(env: Environment, bytecode: Mapping[str, Sequence[str]]) -> list[str]:
    """Absolute paths of the sources the plans chose to compile (the installer compiled
    the distributions whose plans choose none: all of theirs)."""
    paths: list[Path] = []
    for name, sources in bytecode.items():
        dist = env.distribution(name)
        if dist is not None:
            paths.extend(dist.absolute(path) for path in sources)
    return [str(p) for p in paths if p.is_file()]


def _compile(env: Environment, bytecode: Mapping[str, Sequence[str]], progress: Progress) -> None:
    """Compile the bytecode the workload will load, with the target's interpreter.

    pip would compile every source installed; a stripped distribution gets bytecode only
    for the modules its profile saw imported (the rest compile on first import, if ever).
    """
    sources = _sources_to_compile(env, bytecode)
    if not sources:
        return
    command = [env.executable, "-c", _COMPILE_SCRIPT]
    done = subprocess.run(command, input="\n".join(sources), capture_output=True, text=True)
    if done.returncode != 0 or done.stdout.strip():  # pip only warns too
        progress.warn("some sources did not compile:\n" + done.stdout.strip()[-2000:])


_COMPILE_SCRIPT = """
import concurrent.futures, os, py_compile, sys

def compile_one(path):
    try:
        py_compile.compile(path, doraise=True)
    except Exception as exc:
        return f"{path}: {exc}"

if __name__ == "__main__":
    paths = [p for p in sys.stdin.read().splitlines() if p]
    workers = min(os.cpu_count() or 1, 8)
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        problems = [p for p in pool.map(compile_one, paths, chunksize=32) if p]
    print("\\n".join(problems))
"""
"""Compiles the files named on stdin in parallel, in the target's own interpreter (its
cache tag and magic number), as pip's compileall would one by one."""


def _has_sdists(prepared: Prepared) -> bool:
    return any(not d.is_wheel for d in prepared.resolution.distributions)


def _install_command(
    env: Environment,
    installer: Installer,
    house: Path,
    sources: Sequence[str],
    pins: Sequence[str],
    *,
    reinstall: bool,
    compile_all: bool,
) -> list[str]:
    """The installer's command line: ``--no-deps``, by name from ``house``."""
    if installer == "uv":
        head = [_uv_binary() or "uv", "pip", "install", "--python", env.executable]
        head += ["--reinstall"] if reinstall else []
        head += ["--compile-bytecode"] if compile_all else []
    else:
        head = [env.executable, "-m", "pip", "install", "--disable-pip-version-check"]
        head += ["--force-reinstall"] if reinstall else []
        head += [] if compile_all else ["--no-compile"]
    return [*head, "--no-deps", "--quiet", "--find-links", str(house), *sources, *pins]


def _run(command: Sequence[str]) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(command, capture_output=True, text=True, env=environ)
    if result.returncode != 0:
        raise PipError(command, result.returncode, result.stderr + result.stdout)


def pip_check(env: Environment) -> tuple[bool, str]:
    """Run ``pip check`` in the target; (clean, its output)."""
    result = subprocess.run(
        [env.executable, "-m", "pip", "check", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0, (result.stdout + result.stderr).strip()


# -- state and restore ---------------------------------------------------------------


def _state_path(env: Environment) -> Path:
    return env.prefix / STATE_FILE


def read_state(env: Environment) -> dict[str, Any]:
    """What lean installs left in this environment: per distribution, its original."""
    try:
        data = json.loads(_state_path(env).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"distributions": {}}
    return data if isinstance(data.get("distributions"), dict) else {"distributions": {}}


def _write_state(
    env: Environment,
    prepared: Prepared,
    pip_args: Sequence[str],
    cache: Cache,
    on_miss: OnMiss | None,
) -> None:
    """Record the originals (for ``restore`` and the reserve), the cache and the mode."""
    state = read_state(env)
    state["cache"] = str(cache.root.resolve())
    if on_miss is not None:
        state["on-miss"] = on_miss
    sources = index_options(pip_args)
    for plan in prepared.plan.distributions:
        dist = prepared.resolution.distribution(plan.name)
        if dist is None or plan.name not in prepared.wheels:
            continue
        if plan.decision == "keep":
            state["distributions"].pop(plan.name, None)
            continue
        state["distributions"][plan.name] = {
            "version": plan.version,
            "lean-version": plan.lean_version,
            "decision": plan.decision,
            "profile": plan.profile_label,
            "original": {"filename": dist.filename, "url": dist.url, "sha256": dist.sha256},
            "index-options": sources,
        }
    _write_json_atomically(_state_path(env), state)


def _write_json_atomically(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def record_pruned(env: Environment, pruned: Mapping[str, str]) -> None:
    """Remember the distributions ``install --prune`` uninstalled (name -> version)."""
    state = read_state(env)
    state.setdefault("pruned", {}).update(pruned)
    _write_json_atomically(_state_path(env), state)


def on_miss_mode(env: Environment) -> OnMiss:
    """What a touched stub does in ``env``: ``error`` unless configured otherwise."""
    mode = read_state(env).get("on-miss")
    return mode if mode in ON_MISS_MODES else "error"


def configure_on_miss(env: Environment, mode: OnMiss) -> None:
    """Set what a touched stub does in ``env`` from now on."""
    if mode not in ON_MISS_MODES:
        raise UsageError(f"on-miss must be one of {', '.join(ON_MISS_MODES)}, not {mode!r}")
    state = read_state(env)
    state["on-miss"] = mode
    _write_json_atomically(_state_path(env), state)


def restore(
    env: Environment,
    names: Sequence[str],
    *,
    cache: Cache,
    installer: Installer,
    progress: Progress,
    on_miss: OnMiss | None = None,
) -> list[str]:
    """Put back the original wheels of ``names`` (all lean ones if empty); return them."""
    state = read_state(env)
    recorded: dict[str, Any] = state["distributions"]
    wanted = [canonicalize_name(n) for n in names or sorted(recorded)]
    unknown = [n for n in wanted if n not in recorded]
    if unknown:
        raise RestoreError(
            f"lean-install did not install {', '.join(unknown)} in {env.prefix}",
            hint="lean-install restore takes the distributions a lean install stripped or "
            "stubbed; see them with: lean-install report --python " + env.executable,
        )
    if not wanted:
        progress.note("nothing to restore: no lean distribution in this environment")
        return []
    dists = [_recorded_distribution(name, recorded[name]) for name in wanted]
    progress.step("fetching originals", len(dists))
    options = sorted({o for name in wanted for o in recorded[name].get("index-options", [])})
    originals = fetch(env, dists, cache, options)
    prepared = Prepared(
        resolution=Resolution(distributions=tuple(dists)),
        plan=Plan(
            policy="safe",
            distributions=tuple(_keep_plan(d) for d in dists),
        ),
        wheels=dict(originals),
        originals=dict(originals),
    )
    install_prepared(
        env, prepared, installer=installer, cache=cache, pip_args=[], progress=progress,
        reinstall=True, on_miss=on_miss,
    )  # fmt: skip
    for name in wanted:
        recorded.pop(name, None)
    _write_json_atomically(_state_path(env), state)
    return list(wanted)


def _recorded_distribution(name: str, entry: Mapping[str, Any]) -> ResolvedDistribution:
    original = entry["original"]
    return ResolvedDistribution(
        name=canonicalize_name(name),
        version=entry["version"],
        url=original["url"],
        filename=original["filename"],
        sha256=original.get("sha256"),
        requested=True,
    )


def _keep_plan(dist: ResolvedDistribution) -> DistributionPlan:
    return DistributionPlan(
        name=dist.name, version=dist.version, decision="keep", reason="restored"
    )
