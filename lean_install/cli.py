"""The command line: argparse, one function per command, errors turned into text here only."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lean_install import __version__
from lean_install.errors import LeanInstallError, OutputError, UsageError
from lean_install.profile import Profile, merge_profiles
from lean_install.reserve import ON_MISS_MODES

__all__ = ["main", "build_parser"]


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _say(message: str) -> None:
    print(f"lean-install: {message}", file=sys.stderr)


def _environment(python: str | None, *, quiet: bool = False) -> Any:
    """The target environment, once an install a killed lean-install left there is completed."""
    from lean_install.cache import Cache
    from lean_install.environment import Environment
    from lean_install.install import recover
    from lean_install.progress import make_progress

    env = Environment.inspect(python)
    with make_progress(quiet) as progress:
        if recover(env, Cache.default(), progress):
            env = Environment.inspect(python)
    return env


# -- trace ---------------------------------------------------------------------------


def cmd_trace(args: argparse.Namespace) -> int:
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
    _say(
        f"workload {status}; traced {result.raw.processes} Python process(es); "
        f"{len(used)} distribution(s) used; profile written to {output}"
    )
    return result.exit_code


# -- profile -------------------------------------------------------------------------


def _profile_table(profile: Profile) -> str:
    lines = [f"{'distribution':<28} {'version':<16} {'loaded':>7} {'probed':>7}  scripts"]
    for dist in profile.distributions:
        mark = " (also seen: " + ", ".join(dist.also_seen) + ")" if dist.also_seen else ""
        lines.append(
            f"{dist.name:<28} {dist.version:<16} {len(dist.files):>7} {len(dist.probed):>7}  "
            f"{', '.join(dist.scripts)}{mark}"
        )
    lines.append("")
    for trace in profile.traces:
        lines.append(
            f"trace {trace.created} {trace.status:<6} backend={trace.backend} "
            f"processes={trace.processes} python={trace.environment.python} "
            f"{trace.environment.platform} {trace.environment.prefix_kind}: "
            + " ".join(trace.command)
        )
    return "\n".join(lines)


def cmd_profile_show(args: argparse.Namespace) -> int:
    profile = Profile.load(args.profile)
    if args.json:
        _print_json(profile.to_json())
    else:
        print(_profile_table(profile))
    return 0


def _check_writable(path: Path) -> None:
    """Refuse an output path before any work is done (a trace would be lost)."""
    directory = path.parent if str(path.parent) else Path()
    if not directory.is_dir():
        raise OutputError(str(path), f"no directory {directory}")
    if not os.access(directory, os.W_OK):
        raise OutputError(str(path), f"{directory} is not writable")


def cmd_profile_merge(args: argparse.Namespace) -> int:
    _check_writable(Path(args.output))
    profiles = [Profile.load(path) for path in args.profiles]
    merged = merge_profiles(profiles)
    merged.dump(args.output)
    _say(f"merged {len(profiles)} profiles into {args.output}")
    return 0


# -- report --------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from lean_install.report import build_report, render_table

    profile = Profile.load(args.profile) if args.profile else None
    if args.html:
        _check_writable(Path(args.html))
    report = build_report(_environment(args.python), profile)
    if args.html:
        from lean_install.html import write_html

        write_html(report, Path(args.html))
        _say(f"wrote {args.html}")
        return 0
    if args.json:
        _print_json(report.to_dict())
    else:
        print(render_table(report))
    return 0


# -- install, wheel, restore -------------------------------------------------------


def _lean_options() -> argparse.ArgumentParser:
    """lean-install's own options of ``install`` and ``wheel``; the rest goes to pip."""
    p = argparse.ArgumentParser(prog="lean-install install", add_help=False, allow_abbrev=False)
    p.add_argument("--python", help="the target interpreter (default: this one)")
    p.add_argument("--profile", action="append", default=[], help="usage profile (repeatable)")
    p.add_argument("--policy", choices=["profile", "safe"])
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    p.add_argument("--on-miss", choices=ON_MISS_MODES, help="what a touched stub does")
    p.add_argument("--prune", action="store_true", help="uninstall what was there, unused")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--lean", action="store_true", help=argparse.SUPPRESS)  # from the shell hook
    p.add_argument("-w", "--wheel-dir", help=argparse.SUPPRESS)
    return p


INSTALL_USAGE = """\
usage: lean-install install [--python PY] [--profile PROFILE ...] [--policy profile|safe]
                            [--dry-run] [--json] [--installer auto|pip|uv] [-q]
                            [--on-miss error|restore|log] [--prune]
                            REQUIREMENT... [pip options]

Resolve with the target's pip, plan from the profile, fetch and strip only what is
kept, install with --no-deps, then run pip check. pip options (-r, -c, --index-url,
--extra-index-url, --find-links, --no-index, --pre, ...) are handed to pip as given.
Without --profile, a bundled profile covering the requested packages is used if there
is one (see: lean-install profile list), else the safe policy.

--on-miss says what a program does when it imports a module the lean install removed:
error (the default) raises ImportError; restore brings the module back from the
original wheel and goes on; log restores and prints a line. Every miss is logged
(see: lean-install misses).

--prune also uninstalls the distributions that were in the environment before, that the
profile never used and that nothing left there requires (pip is kept): setuptools, as
python -m venv seeds it. pip install NAME==VERSION brings one back."""


def _pipeline(args: argparse.Namespace, pip_args: list[str], *, build: bool) -> Any:
    from lean_install.cache import Cache
    from lean_install.install import choose_policy, prepare
    from lean_install.profile import load_profiles
    from lean_install.progress import make_progress

    specs = args.profile or _bundled_for(pip_args)
    profile, label = load_profiles(specs)
    policy = choose_policy(profile, args.policy)
    env = _environment(args.python, quiet=args.quiet or args.json)
    cache = Cache.default()
    progress = make_progress(args.quiet or args.json)
    with progress:
        prepared = prepare(env, pip_args, profile=profile, profile_label=label, policy=policy,
                           cache=cache, progress=progress, build=build)  # fmt: skip
    return env, cache, prepared, progress, profile


def _bundled_for(pip_args: Sequence[str]) -> list[str]:
    """The bundled profiles that best cover the requested packages, merged; say which.

    A profile covers the request when it used every requested distribution; of those,
    the ones that used the fewest other distributions are taken together (for
    ``torch``: the CPU training and inference profiles, not the transformers one).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    from lean_install.profile import bundled_profiles

    names = set()
    for arg in pip_args:
        if arg.startswith("-"):
            continue
        try:
            names.add(canonicalize_name(Requirement(arg).name))
        except InvalidRequirement:
            continue
    if not names:
        return []
    covering: dict[str, int] = {}
    for name, path in bundled_profiles().items():
        used = {d.name for d in Profile.load(path).distributions if d.used}
        if names <= used:
            covering[name] = len(used - names)
    if not covering:
        _say("no bundled profile covers the request: the safe policy applies")
        return []
    fewest = min(covering.values())
    chosen = sorted(name for name, extra in covering.items() if extra == fewest)
    _say(f"using the bundled profile {' + '.join(chosen)} (see: lean-install profile list)")
    return chosen


def _plan_table(plan: Any) -> str:
    lines = [f"{'distribution':<26} {'version':<22} {'decision':<8} {'MB':>8} {'saved':>8}  reason"]
    for d in plan.distributions:
        lines.append(
            f"{d.name:<26} {d.lean_version:<22} {d.decision:<8} "
            f"{d.bytes_installed / 1e6:>8.1f} {d.bytes_saved / 1e6:>8.1f}  {d.reason}"
        )
        lines.extend(f"{'':<26} note: {note}" for note in d.notes)
    total, saved = plan.bytes_installed, plan.bytes_saved
    share = f" ({saved / total:.0%})" if total else ""
    lines.append(f"policy {plan.policy}; profile {plan.profile_label or '(none)'}; "
                 f"{saved / 1e6:.1f} MB of {total / 1e6:.1f} MB left out{share}")  # fmt: skip
    return "\n".join(lines)


def cmd_install(argv: Sequence[str]) -> int:
    from lean_install.install import choose_installer, install_prepared, pip_check

    if not argv or argv[0] in ("-h", "--help"):
        print(INSTALL_USAGE)
        return 0
    args, pip_args = _lean_options().parse_known_args(list(argv))
    env, cache, prepared, progress, profile = _pipeline(args, pip_args, build=not args.dry_run)
    if args.json:
        _print_json({"dry-run": args.dry_run, "plan": prepared.plan.to_dict()})
    else:
        print(_plan_table(prepared.plan))
    if args.dry_run:
        return 0
    installer = choose_installer(args.installer)
    with progress:
        install_prepared(env, prepared, installer=installer, cache=cache, pip_args=pip_args,
                         progress=progress, on_miss=args.on_miss)  # fmt: skip
    if args.prune and profile is None:
        _say("--prune skipped: without a profile, nothing says what is unused")
    elif args.prune and profile is not None:
        _prune(env, prepared, profile)
    clean, output = pip_check(env)
    if not clean:
        _say(f"pip check reports problems after the lean install:\n{output}")
        return 1
    _say(f"installed {len(prepared.wheels)} distributions into {env.prefix} with {installer}")
    return 0


def _prune(env: Any, prepared: Any, profile: Profile) -> None:
    from lean_install.prune import prunable, prune

    installed = {d.name for d in prepared.resolution.distributions}
    markers = prepared.resolution.marker_environment
    pruned = prune(env, prunable(env, installed, profile, markers))
    if pruned:
        _say(f"pruned {', '.join(pruned)}; the profile never used them")


def cmd_wheel(argv: Sequence[str]) -> int:
    import shutil

    args, pip_args = _lean_options().parse_known_args(list(argv))
    if not args.wheel_dir:
        raise UsageError("wheel: give -w DIR, the directory to write the wheels into")
    _, _, prepared, _, _ = _pipeline(args, pip_args, build=True)
    out = Path(args.wheel_dir)
    out.mkdir(parents=True, exist_ok=True)
    for wheel in prepared.wheels.values():
        shutil.copyfile(wheel, out / wheel.name)
    print(_plan_table(prepared.plan) if not args.json else json.dumps(prepared.plan.to_dict()))
    _say(f"wrote {len(prepared.wheels)} wheels to {out}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from lean_install.cache import Cache
    from lean_install.install import choose_installer, pip_check, restore
    from lean_install.progress import make_progress

    if not args.all and not args.distributions:
        raise UsageError("restore: name the distributions to restore, or give --all")
    env = _environment(args.python)
    with make_progress(args.quiet) as progress:
        names = [] if args.all else args.distributions
        installer = choose_installer(args.installer)
        restored = restore(
            env,
            names,
            cache=Cache.default(),
            installer=installer,
            progress=progress,
            on_miss=args.on_miss,
        )
    clean, output = pip_check(env)
    _say(f"restored {', '.join(restored) or 'nothing'} in {env.prefix}")
    if not clean:
        _say(f"pip check reports:\n{output}")
        return 1
    return 0


# -- misses ------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    from lean_install.install import configure_on_miss, on_miss_mode

    env = _environment(args.python)
    if args.value is None:
        print(on_miss_mode(env))
        return 0
    configure_on_miss(env, args.value)
    _say(f"on-miss is now {args.value} in {env.prefix}")
    return 0


def cmd_misses(args: argparse.Namespace) -> int:
    from lean_install.misses import environment_misses, render_misses

    misses = environment_misses(_environment(args.python))
    if args.json:
        _print_json([m.to_dict() for m in misses])
    else:
        print(render_misses(misses))
    return 0


def cmd_profile_update(args: argparse.Namespace) -> int:
    from lean_install.misses import environment_misses, fold_misses

    if not args.from_misses:
        raise UsageError("profile update: say where the update comes from: --from-misses")
    profile = Profile.load(args.profile)
    output = Path(args.output or args.profile)
    _check_writable(output)
    env = _environment(args.python)
    misses = environment_misses(env)
    updated, added = fold_misses(profile, misses)
    updated.dump(output)
    _say(f"added {added} files from {len(misses)} misses in {env.prefix} to {output}")
    return 0


# -- shell integration -------------------------------------------------------------

_POSIX_HOOK = """\
# lean-install shell integration: `pip install --lean ...` runs lean-install.
pip() {
    if [ "$1" = "install" ]; then
        for __lean_arg in "$@"; do
            if [ "$__lean_arg" = "--lean" ]; then
                shift
                __lean_python="$(command -v python3 || command -v python)"
                command lean-install install --python "$__lean_python" "$@"
                return $?
            fi
        done
    fi
    command pip "$@"
}
"""

_FISH_HOOK = """\
# lean-install shell integration: `pip install --lean ...` runs lean-install.
function pip
    if test (count $argv) -gt 0; and test "$argv[1]" = install; and contains -- --lean $argv
        set -l python (command -v python3; or command -v python)
        command lean-install install --python $python $argv[2..-1]
        return $status
    end
    command pip $argv
end
"""


def cmd_shell_hook(args: argparse.Namespace) -> int:
    print(_FISH_HOOK if args.shell == "fish" else _POSIX_HOOK, end="")
    return 0


def cmd_profile_list(args: argparse.Namespace) -> int:
    from lean_install.profile import bundled_profiles

    for name, path in bundled_profiles().items():
        profile = Profile.load(path)
        used = ", ".join(f"{d.name} {d.version}" for d in profile.distributions if d.used)
        commands = "; ".join(" ".join(t.command) for t in profile.traces)
        print(f"{name}: {used}\n    traced: {commands}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lean_install.demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None, keep=args.keep)


# -- parser --------------------------------------------------------------------------


def _add_trace(sub: Any) -> None:
    p = sub.add_parser(
        "trace",
        help="run a workload and record what it used",
        description="Run COMMAND and record, in every Python process it starts, what it used.",
    )
    p.add_argument("-o", "--output", required=True, help="the profile to write")
    p.add_argument("--append", action="store_true", help="merge into an existing profile")
    p.add_argument("--backend", choices=["python", "strace"], default="python")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    p.set_defaults(func=cmd_trace)


def _add_profile(sub: Any) -> None:
    p = sub.add_parser("profile", help="show or merge usage profiles")
    psub = p.add_subparsers(dest="profile_command", required=True)
    show = psub.add_parser("show", help="print a profile")
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


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="what an environment holds, uses, and could drop")
    p.add_argument("--python", help="the interpreter of the environment (default: this one)")
    p.add_argument("--profile", help="a usage profile: report used and unused bytes")
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", metavar="OUT", help="write a self-contained page with a treemap")
    p.set_defaults(func=cmd_report)


def _add_restore_and_hook(sub: Any) -> None:
    p = sub.add_parser("restore", help="put back the original wheels of lean distributions")
    p.add_argument("distributions", nargs="*")
    p.add_argument("--all", action="store_true")
    p.add_argument("--python")
    p.add_argument("--installer", choices=["auto", "pip", "uv"], default="auto")
    p.add_argument("--on-miss", choices=ON_MISS_MODES, help="what a touched stub does from now on")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_restore)
    c = sub.add_parser("config", help="show or set what a touched stub does (on-miss)")
    c.add_argument("--python", help="the lean environment's interpreter")
    c.add_argument("key", choices=["on-miss"])
    c.add_argument("value", nargs="?", choices=ON_MISS_MODES)
    c.set_defaults(func=cmd_config)

    m = sub.add_parser("misses", help="list the removed modules programs touched")
    m.add_argument("--python", help="the lean environment's interpreter")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_misses)

    h = sub.add_parser("shell-hook", help="print the shell function behind `pip install --lean`")
    h.add_argument("shell", nargs="?", choices=["bash", "zsh", "fish"], default="bash")
    h.set_defaults(func=cmd_shell_hook)
    d = sub.add_parser("demo", help="trace, lean-install and run a small real example")
    d.add_argument("--dir", help="work there (kept) instead of a temporary directory")
    d.add_argument("--keep", action="store_true", help="keep the temporary directory")
    d.set_defaults(func=cmd_demo)
    sub.add_parser("install", help="install lean: only what the profile uses", add_help=False)
    sub.add_parser("wheel", help="build the lean wheels into a directory (-w DIR)", add_help=False)
    sub.add_parser("lock", help="write a PEP 751 pylock.toml carrying the profile and plan",
                   add_help=False)  # fmt: skip
    sub.add_parser("sync", help="make an environment match a lock exactly", add_help=False)
    sub.add_parser("wheelhouse", help="write the lean wheels of a lock and a PEP 503 index",
                   add_help=False)  # fmt: skip


def cmd_lock(argv: Sequence[str]) -> int:
    from lean_install.lockfile import cmd_lock as run

    return run(argv)


def cmd_sync(argv: Sequence[str]) -> int:
    from lean_install.lockfile import cmd_sync as run

    return run(argv)


def cmd_wheelhouse(argv: Sequence[str]) -> int:
    from lean_install.lockfile import cmd_wheelhouse as run

    return run(argv)


_PASS_THROUGH = {
    "install": cmd_install,
    "wheel": cmd_wheel,
    "lock": cmd_lock,
    "sync": cmd_sync,
    "wheelhouse": cmd_wheelhouse,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lean-install",
        description="Debloated Python environments: trace a workload, install what it uses.",
    )
    parser.add_argument("--version", action="version", version=f"lean-install {__version__}")
    sub = parser.add_subparsers(dest="command_name", required=True)
    _add_trace(sub)
    _add_profile(sub)
    _add_report(sub)
    _add_restore_and_hook(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _PASS_THROUGH:  # pip's options pass through: no argparse here
            return _PASS_THROUGH[argv[0]](argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except LeanInstallError as exc:
        print(f"lean-install: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lean-install report | head`
        sys.stderr.close()
        return 0
