"""Installing what a plan built: the last step of ``install``, ``sync`` and ``restore``.

``apply`` hands the built files to the target's pip (or uv) with ``--no-deps``, by name and
version from the cache's directories (so ``pip freeze`` writes ``name==version``), under
the journal; it records the originals in the environment's state, compiles the bytecode
the plans chose, and uninstalls what it is told to. ``recover`` completes an ``apply``
that was killed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import NormalizedName

from lean_install import backup, fatbin, journal
from lean_install.build import build
from lean_install.cache import Cache
from lean_install.environment import Environment
from lean_install.fetch import fetch
from lean_install.journal import Installation
from lean_install.listing import WheelListing
from lean_install.plan import Plan
from lean_install.planner import Planned, listings_of
from lean_install.progress import Progress
from lean_install.runtime import layout
from lean_install.runtime.records import Checks, Manifest, read_misses
from lean_install.sources import index_options
from lean_install.state import read_state, record_install
from lean_install.stubs import RUNTIME_AT_START
from lean_install.target import TargetPip
from lean_install.verify import Check, Verification, attribute, to_check, verify

__all__ = ["installation", "apply", "recover", "Result", "install", "verify_and_repair"]


def installation(
    plan: Plan,
    built: Mapping[NormalizedName, Path],
    target: TargetPip,
    pip_args: Sequence[str],
    *,
    reinstall: bool = False,
    uninstall: Sequence[str] = (),
    cache: Cache | None = None,
) -> Installation:
    """What installing ``built`` for ``plan`` takes: the runs of the installer, in groups
    that compile everything (as pip does) or only what the plan chose, then the bytecode
    (kept in ``cache``'s bytecode directory for the next time)."""
    dists = [d for d in plan.installed if d.name in built or (d.source and not d.source.archive)]
    pins = {
        d.name: f"{d.name}=={d.lean_version}"
        if d.name in built
        else f"{d.name} @ {d.source.url if d.source else ''}"
        for d in dists
    }
    groups = tuple(
        (tuple(chosen), compile_all)
        for compile_all in (True, False)
        if (chosen := [pins[d.name] for d in dists if (d.bytecode is None) == compile_all])
    )
    needs_index = any(d.source and not (d.source.filename.endswith(".whl")) for d in dists)
    return Installation(
        installer=target.installer,
        sources=tuple(index_options(pip_args)) if needs_index else ("--no-index",),
        groups=groups,
        reinstall=reinstall,
        wheels={name: str(path) for name, path in built.items()},
        bytecode={d.name: d.bytecode for d in dists if d.bytecode is not None and d.name in built},
        uninstall=tuple(uninstall),
        bytecode_cache=str(cache.root / "bytecode") if cache is not None else "",
    )


def apply(
    env: Environment,
    target: TargetPip,
    plan: Plan,
    built: Mapping[NormalizedName, Path],
    cache: Cache,
    progress: Progress,
    *,
    pip_args: Sequence[str] = (),
    reinstall: bool = False,
    on_miss: str | None = None,
    uninstall: Sequence[str] = (),
    checks: Mapping[str, Checks] | None = None,
) -> None:
    """Install ``built`` into ``env`` and uninstall ``uninstall``, under the journal;
    ``checks``: what verifying the environment will check, recorded in its state."""
    work = installation(plan, built, target, pip_args, reinstall=reinstall, uninstall=uninstall,
                        cache=cache)  # fmt: skip
    if not work.groups and not work.uninstall:
        return
    progress.step(f"installing with {target.installer}", sum(len(p) for p, _ in work.groups))
    for cleared in journal.clear_interrupted(env, work.wheels):
        progress.note(f"removed {cleared}: left by an interrupted install (it has no RECORD)")
    journal.begin(env, work)
    record_install(env, plan, cache, index_options(pip_args), on_miss, checks)
    _carry_out(env, target, work, progress)
    journal.finish(env)


def _carry_out(env: Environment, target: TargetPip, work: Installation, progress: Progress) -> None:
    for pins, compile_all in work.groups:
        target.install(
            work.find_links,
            pins,
            sources=work.sources,
            reinstall=work.reinstall,
            compile_all=compile_all,
        )
        for pin in pins:
            progress.advance(pin)
    cache = Path(work.bytecode_cache) if work.bytecode_cache else None
    problems = target.compile(_sources_to_compile(env, work.bytecode), cache)
    if problems:  # pip only warns too
        progress.warn("some sources did not compile:\n" + problems[-2000:])
    target.uninstall(work.uninstall)
    _make_holes(env, work.wheels)


def _make_holes(env: Environment, names: Iterable[str]) -> None:
    """The bytes the fatbins of pruned libraries lost become holes in the installed files
    (the installer wrote them as zeros)."""
    for name in names:
        dist = env.distribution(name)
        if dist is None:
            continue
        manifest, _ = Manifest.read(str(dist.root / dist.dist_info / layout.MANIFEST_NAME))
        for member in manifest.fatbins if manifest else ():
            if (path := dist.absolute(member)).is_file():
                fatbin.sparsify(str(path))


def _sources_to_compile(env: Environment, bytecode: Mapping[str, Sequence[str]]) -> list[str]:
    """Absolute paths of the sources the plans chose to compile (the installer compiled
    the distributions whose plans choose none: all of theirs), and of the modules of each
    one's runtime copy that every interpreter start loads (``RUNTIME_AT_START``; else the
    first start writes their bytecode)."""
    paths: list[Path] = []
    for name, sources in bytecode.items():
        dist = env.distribution(name)
        if dist is not None:
            paths.extend(dist.absolute(path) for path in sources)
            runtime = dist.root / dist.dist_info / layout.RUNTIME_DIRECTORY
            paths.extend(runtime / name for name in RUNTIME_AT_START)
    return [str(p) for p in paths if p.is_file()]


def recover(env: Environment, target: TargetPip, progress: Progress) -> bool:
    """Complete the installation a killed lean-install left in ``env``, if there is one.

    Every distribution it was installing is installed again (forced: one pip was writing
    when it died may look complete), after the leftovers of the killed installer are
    cleared. Returns whether there was one to complete.
    """
    layout.sweep_temporaries(layout.state_path(env.prefix, ""))
    pending = journal.pending(env)
    if pending is None:
        return False
    progress.warn(
        f"found an interrupted `{pending.command_line}` (started {pending.started}) "
        f"in {env.prefix}: completing it"
    )
    work = pending.installation
    for cleared in journal.clear_interrupted(env, work.wheels, stashes=True):
        progress.note(f"removed {cleared}: left by the interrupted install")
    _carry_out(
        env, replace(target, installer=work.installer), replace(work, reinstall=True), progress
    )
    journal.finish(env)
    backup.discard(env)
    progress.warn(f"completed the interrupted `{pending.command_line}`")
    return True


# -- the install command ----------------------------------------------------------------------


@dataclass
class Result:
    """What ``install`` did and found: its last lines, and whether the environment works."""

    ok: bool = True
    messages: list[str] = field(default_factory=list)
    verification: Verification | None = None
    put_back: dict[str, str] = field(default_factory=dict)
    """Distributions whose originals verification made put back, and why."""
    rolled_back: bool = False
    repaired: bool = False
    """Whether verification changed the environment (brought code back, put originals back)."""


def install(
    planned: Planned,
    target: TargetPip,
    cache: Cache,
    progress: Progress,
    *,
    pip_args: Sequence[str] = (),
    on_miss: str | None = None,
    prune: bool = False,
    check: bool = True,
) -> Result:
    """Build what ``planned`` asks for, install it, prune, verify (putting originals back
    where verification fails, and the environment as it was if that does not help), and
    run ``pip check`` (beside the verification: both only read the environment)."""
    env, plan = target.env, planned.plan
    built = build(plan, planned.originals, cache, progress)
    taken = backup.take(env, [d.name for d in plan.installed])
    result = Result()
    listings = planned.listings  # a remembered plan has none: read on a failure only
    checks = planned.checks
    try:
        apply(
            env,
            target,
            plan,
            built,
            cache,
            progress,
            pip_args=pip_args,
            on_miss=on_miss,
            checks=checks,
        )
        if prune:
            result.messages += _prune(target, planned)
        with ThreadPoolExecutor(1) as beside:
            pip_check = beside.submit(target.check)  # while verification imports
            if check:
                verify_and_repair(
                    plan, listings, target, cache, progress, result, taken, to_check(env, checks)
                )
            clean, output = pip_check.result()
    finally:
        backup.discard(env)
    if result.ok:
        if result.repaired:  # the check ran while verification changed the environment
            clean, output = target.check()
        if not clean:
            result.ok = False
            result.messages.append(f"pip check reports problems after the lean install:\n{output}")
        else:
            kept = len([d for d in plan.installed if d.name in built or d.source])
            result.messages.append(
                f"installed {kept} distributions into {env.prefix} with {target.installer}"
            )
            result.messages.append(_mode_line(env))
    return result


def _mode_line(env: Environment) -> str:
    """What a program does when it reaches removed code here, and how to change it."""
    mode = read_state(env).mode
    change = "error" if mode != "error" else "restore"
    what = {
        "restore": "comes back from the original (and is logged)",
        "log": "comes back from the original, and says so on stderr",
        "error": "raises an ImportError (or FileNotFoundError) naming lean-install",
    }[mode]
    return (f"on-miss is {mode}: removed code a program reaches {what}; change it with: "
            f"lean-install config --python {env.executable} on-miss {change}")  # fmt: skip


def _prune(target: TargetPip, planned: Planned) -> list[str]:
    from lean_install.prune import prunable, prune

    if planned.profile is None:
        return ["--prune skipped: without a profile, nothing says what is unused"]
    installed = {d.name for d in planned.plan.installed}
    pruned = prune(target, prunable(target.env, installed, planned.profile, planned.plan.markers))
    return [f"pruned {', '.join(pruned)}; the profile never used them"] if pruned else []


def verify_and_repair(
    plan: Plan,
    listings: Mapping[NormalizedName, WheelListing],
    target: TargetPip,
    cache: Cache,
    progress: Progress,
    result: Result,
    taken: backup.Backup,
    check: Check,
) -> None:
    """Verify; put back the originals that failures point at and verify again; if it still
    fails, put the environment back as it was."""
    env = target.env
    progress.step("verifying", len(check.modules) + len(check.libraries))
    first = verify(target, check)
    result.verification = first
    if first.ok:
        result.messages.append(f"verified: {first.summary()}")
        return
    result.repaired = True
    if first.removed_code:
        before = len(read_misses(env.prefix))
        verify(target, check, restore=True)
        brought = [m for m in read_misses(env.prefix)[before:] if m.outcome == "restored"]
        for miss in brought:
            result.messages.append(
                f"verification reached removed {miss.module} ({miss.distribution}): brought "
                f"back its {len(miss.files)} files ({miss.bytes / 1e6:.1f} MB)"
            )
        first = verify(target, check)
        result.verification = first
        if first.ok:
            result.messages.append(f"verified after bringing back {len(brought)} modules")
            return
    blamed = attribute(first.failures, plan, listings or listings_of(plan, cache), env)
    result.put_back = {str(n): why for n, why in blamed.items()}
    for name, why in blamed.items():
        result.messages.append(f"verification failed, putting back the original of {name}: {why}")
    originals = _plan_of_originals(plan, blamed)
    fetched = fetch(originals.distributions, cache, target, index_options(()))
    apply(
        env,
        target,
        originals,
        build(originals, fetched, cache, progress),
        cache,
        progress,
        reinstall=True,
    )
    second = verify(target, check)
    result.verification = second
    if second.ok:
        result.messages.append(f"verified after putting back {', '.join(blamed)}")
        return
    progress.warn(
        f"verification still fails ({second.failures[0]}): returning {env.prefix} to "
        "what it was before this command"
    )
    backup.put_back(env, target, taken)
    result.ok, result.rolled_back = False, True
    result.messages.append(f"the lean install did not work and was undone: {second.failures[0]}")


def _plan_of_originals(plan: Plan, names: Mapping[NormalizedName, str]) -> Plan:
    dists = [
        replace(
            d,
            decision="keep",
            drop=(),
            stub_modules=(),
            reason=f"put back: {names[d.name]}",
            rule="none",
        )
        for d in plan.distributions
        if d.name in names
    ]
    return replace(plan, distributions=tuple(dists))
