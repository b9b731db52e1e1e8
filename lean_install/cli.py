"""The command line: argparse parsers for every command, one function per command that
calls the modules and prints; errors are turned into text here only."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lean_install import __version__
from lean_install.errors import LeanInstallError, OutputError, UsageError
from lean_install.options import add_library_options, library_options
from lean_install.runtime.records import ON_MISS_MODES
from lean_install.session import session

__all__ = ["main", "build_parser"]

Command = Callable[[argparse.Namespace, list[str]], int]


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _say(message: str) -> None:
    print(f"lean-install: {message}", file=sys.stderr, flush=True)


def _check_writable(path: Path) -> None:
    """Refuse an output path before any work is done (a trace would be lost)."""
    directory = path.parent if str(path.parent) else Path()
    if not directory.is_dir():
        raise OutputError(str(path), f"no directory {directory}")
    if not os.access(directory, os.W_OK):
        raise OutputError(str(path), f"{directory} is not writable")


# -- trace and profiles ------------------------------------------------------------------------


def cmd_trace(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.profile import Profile, merge_profiles
    from lean_install.tracing import trace

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("trace: give the workload after --", hint="-- python train.py")
    output = Path(args.output)
    _check_writable(output)
    previous = Profile.load(output) if args.append and output.exists() else None
    result = trace(command, backend=args.backend)
    profile = result.profile if previous is None else merge_profiles([previous, result.profile])
    profile.dump(output)
    used = [d for d in result.profile.distributions if d.used]
    status = "passed" if result.exit_code == 0 else f"FAILED (exit {result.exit_code})"
    gpu = "; it used a GPU" if result.profile.uses_gpu else ""
    _say(
        f"workload {status}; traced {result.raw.processes} Python process(es); {len(used)} "
        f"distribution(s) used{gpu}; profile written to {output}"
    )
    return result.exit_code


def cmd_profile_show(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.catalog import profile_path
    from lean_install.profile import Profile

    profile = Profile.load(profile_path(args.profile))
    if args.json:
        _print_json(profile.to_json())
    else:
        from lean_install.text import profile_table

        print(profile_table(profile))
    return 0


def cmd_profile_merge(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.catalog import profile_path
    from lean_install.profile import Profile, merge_profiles

    _check_writable(Path(args.output))
    profiles = [Profile.load(profile_path(p)) for p in args.profiles]
    merge_profiles(profiles).dump(args.output)
    _say(f"merged {len(profiles)} profiles into {args.output}")
    return 0


def cmd_profile_list(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.catalog import bundled_profiles
    from lean_install.profile import Profile

    for name, path in bundled_profiles().items():
        profile = Profile.load(path)
        used = ", ".join(f"{d.name} {d.version}" for d in profile.distributions if d.used)
        programs = ", ".join(" ".join(t.command[1:] or t.command) for t in profile.traces)
        print(f"{name}: {used}\n    traced: {len(profile.traces)} workloads: {programs}")
    return 0


def cmd_profile_update(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.catalog import profile_path
    from lean_install.misses import environment_misses, fold_misses
    from lean_install.profile import Profile

    if not args.from_misses:
        raise UsageError("profile update: say where the update comes from: --from-misses")
    profile = Profile.load(profile_path(args.profile))
    output = Path(args.output or args.profile)
    _check_writable(output)
    with session(args, quiet=True) as s:
        misses = environment_misses(s.env)
    updated, added = fold_misses(profile, misses)
    updated.dump(output)
    _say(f"added {added} files from {len(misses)} misses in {s.env.prefix} to {output}")
    return 0


# -- report, misses, config ------------------------------------------------------------------


def cmd_report(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.catalog import load_profiles
    from lean_install.measure import build_report
    from lean_install.text import render_table

    profile, _label = load_profiles([args.profile] if args.profile else [])
    if args.html:
        _check_writable(Path(args.html))
    if args.prefix:
        from lean_install.conda.report import build_conda_report

        report = build_conda_report(args.prefix, profile)
    else:
        with session(args, quiet=True) as s:
            report = build_report(s.env, profile)
    if args.html:
        from lean_install.html import write_html

        write_html(report, Path(args.html))
        _say(f"wrote {args.html}")
    elif args.json:
        _print_json(report.to_dict())
    else:
        print(render_table(report))
    return 0


def cmd_misses(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.misses import environment_misses, render_misses

    with session(args, quiet=True) as s:
        misses = environment_misses(s.env)
    if args.json:
        _print_json([m.to_dict() for m in misses])
    else:
        print(render_misses(misses))
    return 0


def cmd_config(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.state import configure_on_miss, read_state

    with session(args, quiet=True) as s:
        if args.value is None:
            print(read_state(s.env).mode)
            return 0
        configure_on_miss(s.env, args.value)
    _say(f"on-miss is now {args.value} in {s.env.prefix}")
    return 0


# -- install, wheel, lock, restore -----------------------------------------------------------


def _request(args: argparse.Namespace, pip_args: list[str]) -> Any:
    from lean_install.planner import Request

    if not pip_args:
        raise UsageError(
            f"{args.command_name}: give the requirements to install",
            hint="for example: lean-install install torch",
        )
    from lean_install.variants import VariantSources

    variants = VariantSources(index_urls=tuple(args.variant_index_url),
                              find_links=tuple(args.variant_find_links),
                              enabled=not args.no_variants)  # fmt: skip
    symbols, gpu_archs = library_options(args)
    return Request(pip_args=tuple(pip_args), profiles=tuple(args.profile), policy=args.policy,
                   variants=variants, symbols=symbols, gpu_archs=gpu_archs)  # fmt: skip


def _show_plan(args: argparse.Namespace, plan: Any) -> None:
    if args.json:
        _print_json({"dry-run": bool(getattr(args, "dry_run", False)), "plan": plan.to_dict()})
    else:
        from lean_install.text import plan_table

        print(plan_table(plan), flush=True)


def cmd_install(args: argparse.Namespace, pip_args: list[str]) -> int:
    from lean_install.install import install

    request = _request(args, pip_args)
    with session(args, quiet=args.json) as s:
        from lean_install.planner import make_plan

        planned = make_plan(request, s.target, s.cache, s.progress)
        _show_plan(args, planned.plan)
        if args.dry_run:
            return 0
        result = install(
            planned,
            s.target,
            s.cache,
            s.progress,
            pip_args=pip_args,
            on_miss=args.on_miss,
            prune=args.prune,
        )
    for line in result.messages:
        _say(line)
    return 0 if result.ok else 1


def cmd_wheel(args: argparse.Namespace, pip_args: list[str]) -> int:
    from lean_install.build import build
    from lean_install.planner import make_plan

    request = _request(args, pip_args)
    out = Path(args.wheel_dir)
    with session(args, quiet=args.json) as s:
        planned = make_plan(request, s.target, s.cache, s.progress)
        built = build(planned.plan, planned.originals, s.cache, s.progress)
    out.mkdir(parents=True, exist_ok=True)
    for wheel in built.values():
        shutil.copyfile(wheel, out / wheel.name)
    _show_plan(args, planned.plan)
    _say(f"wrote {len(built)} wheels to {out}")
    return 0


def cmd_lock(args: argparse.Namespace, pip_args: list[str]) -> int:
    from packaging.pylock import is_valid_pylock_path

    from lean_install.build import build
    from lean_install.lock import build_lock, write_lock
    from lean_install.planner import make_plan

    output = Path(args.output)
    if not is_valid_pylock_path(output):
        raise UsageError(f"{output}: a PEP 751 lock is named pylock.toml or pylock.<name>.toml")
    request = _request(args, pip_args)
    with session(args) as s:
        planned = make_plan(request, s.target, s.cache, s.progress)
        built = build(planned.plan, planned.originals, s.cache, s.progress)
    write_lock(build_lock(planned.plan, built, planned.originals, s.env, planned.profile), output)
    summary = ", ".join(f"{n} {d}" for d, n in planned.plan.counts().items() if n)
    _say(f"locked {len(built)} distributions ({summary}) to {output}")
    return 0


def cmd_sync(args: argparse.Namespace, pip_args: list[str]) -> int:
    from lean_install.lock import read_lock
    from lean_install.sync import sync

    lock = read_lock(Path(args.lock))
    with session(args) as s:
        changes, result = sync(s.env, lock, target=s.target, cache=s.cache, pip_args=pip_args,
                               wheelhouse=args.wheelhouse, progress=s.progress,
                               on_miss=args.on_miss)  # fmt: skip
        checked = s.target.check()
    for line in result.messages:
        _say(line)
    if not result.ok:
        return 1
    _say(
        f"synced {s.env.prefix} to {args.lock}: installed {len(changes.install)}, removed "
        f"{len(changes.remove)}, unchanged {len(changes.unchanged)}"
    )
    return _pip_check(*checked, "after the sync")


def _pip_check(clean: bool, output: str, when: str) -> int:
    """1, saying what pip check reports, if it is not clean; else 0."""
    if not clean:
        _say(f"pip check reports problems {when}:\n{output}")
    return 0 if clean else 1


def cmd_wheelhouse(args: argparse.Namespace, pip_args: list[str]) -> int:
    from lean_install.lock import read_lock
    from lean_install.sync import lean_wheels
    from lean_install.wheelhouse import write_wheelhouse

    lock = read_lock(Path(args.lock))
    directory = Path(args.dest)
    with session(args, recover=False) as s, s.cache.temporary_directory() as scratch:
        wheels = lean_wheels(lock, lock.distributions, target=s.target, cache=s.cache,
                             pip_args=pip_args, wheelhouse=None, scratch=scratch,
                             progress=s.progress)  # fmt: skip
        write_wheelhouse(lock, lock.distributions, wheels, directory)
    _say(f"wrote {len(wheels)} lean wheels and their simple index to {directory}")
    return 0


def cmd_restore(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.restore import restore

    if not args.all and not args.distributions:
        raise UsageError("restore: name the distributions to restore, or give --all")
    with session(args) as s:
        names = [] if args.all else args.distributions
        restored, verification = restore(s.env, names, target=s.target, cache=s.cache,
                                         progress=s.progress, on_miss=args.on_miss)  # fmt: skip
        checked = s.target.check()
    _say(f"restored {', '.join(restored) or 'nothing'} in {s.env.prefix}")
    if verification is not None and not verification.ok:
        _say("verification fails after the restore: " + "; ".join(map(str, verification.failures)))
        return 1
    return _pip_check(*checked, "after the restore")


def cmd_verify(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.state import read_state
    from lean_install.verify import to_check, verify

    with session(args, quiet=True) as s:
        check = to_check(s.env, read_state(s.env).checks)
        if not check.modules and not check.libraries:
            _say(f"nothing to verify: lean-install recorded no checks in {s.env.prefix}")
            return 0
        verification = verify(s.target, check)
    if args.json:
        _print_json(verification.to_dict())
    for failure in verification.failures:
        _say(f"FAILED {failure}")
    if verification.ok:
        _say(f"verified {s.env.prefix}: {verification.summary()}")
    return 0 if verification.ok else 1


# -- the rest ----------------------------------------------------------------------------------


def cmd_shell_hook(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.shellhook import hook

    print(hook(args.shell), end="")
    return 0


def cmd_demo(args: argparse.Namespace, _: list[str]) -> int:
    from lean_install.demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None, keep=args.keep)


# -- the parsers -------------------------------------------------------------------------------

_PIP_EPILOG = (
    "pip's own options (-r, -c, --index-url, --extra-index-url, --find-links, "
    "--no-index, --pre, ...) and requirements follow lean-install's and are handed "
    "to pip as given."
)


def _planning(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", help="the target interpreter (default: this one)")
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        help="usage profile: a file or a bundled name (repeatable; default: the "
        "bundled profiles that cover the request, else the safe policy)",
    )
    p.add_argument("--policy", choices=["profile", "safe"])
    p.add_argument(
        "--resolver",
        choices=["auto", "pip", "uv"],
        default="auto",
        help="resolve with uv where present (auto), or with the target's pip",
    )
    p.add_argument(
        "--variant-index-url",
        action="append",
        default=[],
        metavar="URL",
        help="an index with CPU builds (default for torch: the PyTorch CPU index)",
    )
    p.add_argument(
        "--variant-find-links",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory (or page) of CPU builds",
    )
    p.add_argument("--no-variants", action="store_true",
                   help="never swap a GPU build for the CPU build of the same release")  # fmt: skip
    add_library_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def _pass_through(
    sub: Any, name: str, help: str, func: Command, description: str
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, epilog=_PIP_EPILOG, allow_abbrev=False
    )
    p.set_defaults(func=func, pass_through=True)
    return p


def _add_planning_commands(sub: Any) -> None:
    p = _pass_through(
        sub,
        "install",
        "install lean: only what the profile uses",
        cmd_install,
        "Resolve, plan from the profile, fetch and strip only what is kept, "
        "install with --no-deps, verify, then run pip check.",
    )
    _planning(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    p.add_argument(
        "--on-miss", choices=ON_MISS_MODES, help="what a program does when it reaches removed code"
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="also uninstall what was there before, unused and unneeded",
    )
    p.add_argument("--lean", action="store_true", help=argparse.SUPPRESS)  # from the shell hook
    w = _pass_through(
        sub,
        "wheel",
        "build the lean wheels into a directory",
        cmd_wheel,
        "Resolve and plan as install does, and write the wheels it would install.",
    )
    _planning(w)
    w.add_argument("-w", "--wheel-dir", required=True, help="the directory to write them into")
    w.add_argument("--json", action="store_true", help="print the plan as JSON")
    lo = _pass_through(
        sub,
        "lock",
        "write a PEP 751 pylock.toml carrying the profile and plan",
        cmd_lock,
        "Resolve and plan as install does, build the lean wheels, and "
        "write a PEP 751 lock of the originals whose [tool.lean-install] tables "
        "carry the profile, the policy and each package's plan.",
    )
    _planning(lo)
    lo.add_argument("-o", "--output", default="pylock.toml")


def _add_lock_commands(sub: Any) -> None:
    s = _pass_through(
        sub,
        "sync",
        "make an environment match a lock exactly",
        cmd_sync,
        "Install what is missing or different, uninstall what is extra (pip "
        "stays); everything is checked before anything changes.",
    )
    s.add_argument("lock")
    s.add_argument("--python")
    s.add_argument("--wheelhouse", help="take the lean wheels from there (URL or directory)")
    s.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    s.add_argument("--on-miss", choices=ON_MISS_MODES)
    s.add_argument("-q", "--quiet", action="store_true")
    h = _pass_through(
        sub,
        "wheelhouse",
        "write the lean wheels of a lock and a PEP 503 index",
        cmd_wheelhouse,
        "Write LOCK's lean wheels to DIR under a simple index "
        "(DIR/simple/<name>/), a lock of them (DIR/pylock.toml) and pins "
        "(DIR/requirements.txt), for any static web server.",
    )
    h.add_argument("lock")
    h.add_argument("-d", "--dest", required=True)
    h.add_argument("-q", "--quiet", action="store_true")


def _add_environment_commands(sub: Any) -> None:
    r = sub.add_parser("restore", help="put back the original wheels of lean distributions")
    r.add_argument("distributions", nargs="*")
    r.add_argument("--all", action="store_true")
    r.add_argument("--python")
    r.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    r.add_argument("--on-miss", choices=ON_MISS_MODES, help="what a program does from now on")
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_restore)
    c = sub.add_parser("config", help="show or set what programs do on reaching removed code")
    c.add_argument("--python", help="the lean environment's interpreter")
    c.add_argument("key", choices=["on-miss"])
    c.add_argument("value", nargs="?", choices=ON_MISS_MODES)
    c.set_defaults(func=cmd_config)
    m = sub.add_parser("misses", help="list the removed code programs reached")
    m.add_argument("--python", help="the lean environment's interpreter")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_misses)
    v = sub.add_parser("verify", help="check that what the profile used imports and loads")
    v.add_argument("--python", help="the lean environment's interpreter")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    rep = sub.add_parser("report", help="what an environment holds, uses, and could drop")
    where = rep.add_mutually_exclusive_group()
    where.add_argument("--python", help="the interpreter of the environment (default: this one)")
    where.add_argument("--prefix", help="a conda prefix: measure its packages (conda-meta)")
    rep.add_argument("--profile", help="a profile (file or bundled name): used and unused bytes")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--html", metavar="OUT", help="write a self-contained page with a treemap")
    rep.set_defaults(func=cmd_report)


def _add_profile_commands(sub: Any) -> None:
    t = sub.add_parser(
        "trace",
        help="run a workload and record what it used",
        description="Run COMMAND and record, in every Python process it starts, what it used.",
    )
    t.add_argument("-o", "--output", required=True, help="the profile to write")
    t.add_argument("--append", action="store_true", help="merge into an existing profile")
    t.add_argument("--backend", choices=["python", "strace"], default="python")
    t.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    t.set_defaults(func=cmd_trace)
    p = sub.add_parser("profile", help="show, merge, update and list usage profiles")
    psub = p.add_subparsers(dest="profile_command", required=True)
    show = psub.add_parser("show", help="print a profile (a file or a bundled name)")
    show.add_argument("profile")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_profile_show)
    merge = psub.add_parser("merge", help="merge profiles (union)")
    merge.add_argument("profiles", nargs="+")
    merge.add_argument("-o", "--output", required=True)
    merge.set_defaults(func=cmd_profile_merge)
    update = psub.add_parser("update", help="add what a lean environment missed to a profile")
    update.add_argument("profile")
    update.add_argument("--from-misses", action="store_true", help="from the misses log")
    update.add_argument("--python", help="the lean environment's interpreter")
    update.add_argument("-o", "--output", help="write here instead of over PROFILE")
    update.set_defaults(func=cmd_profile_update)
    listing = psub.add_parser("list", help="the bundled profiles")
    listing.set_defaults(func=cmd_profile_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lean-install",
        description="Debloated Python environments: trace a workload, install what it uses.",
    )
    parser.add_argument("--version", action="version", version=f"lean-install {__version__}")
    sub = parser.add_subparsers(dest="command_name", required=True)
    _add_profile_commands(sub)
    _add_planning_commands(sub)
    _add_lock_commands(sub)
    _add_environment_commands(sub)
    h = sub.add_parser("shell-hook", help="print the shell function behind `pip install --lean`")
    h.add_argument("shell", nargs="?", choices=["bash", "zsh", "fish"], default="bash")
    h.set_defaults(func=cmd_shell_hook)
    d = sub.add_parser("demo", help="trace, lean-install and run a small real example")
    d.add_argument("--dir", help="work there (kept) instead of a temporary directory")
    d.add_argument("--keep", action="store_true", help="keep the temporary directory")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from lean_install.options import parse

        args, pip_args = parse(build_parser(), argv)
        return int(args.func(args, pip_args))
    except LeanInstallError as exc:
        print(f"lean-install: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lean-install: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lean-install report | head`
        sys.stderr.close()
        return 0
