"""The command line: argparse, one function per command, errors turned into text here only."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lean_install import __version__
from lean_install.errors import LeanInstallError
from lean_install.profile import Profile, merge_profiles

__all__ = ["main", "build_parser"]


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _say(message: str) -> None:
    print(f"lean-install: {message}", file=sys.stderr)


# -- trace ---------------------------------------------------------------------------


def cmd_trace(args: argparse.Namespace) -> int:
    from lean_install.tracing import trace

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise SystemExit("lean-install trace: give the workload after --, e.g. -- python x.py")
    output = Path(args.output)
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


def cmd_profile_merge(args: argparse.Namespace) -> int:
    profiles = [Profile.load(path) for path in args.profiles]
    merged = merge_profiles(profiles)
    merged.dump(args.output)
    _say(f"merged {len(profiles)} profiles into {args.output}")
    return 0


# -- report --------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from lean_install.environment import Environment
    from lean_install.report import build_report, render_table

    profile = Profile.load(args.profile) if args.profile else None
    report = build_report(Environment.inspect(args.python), profile)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(render_table(report))
    return 0


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


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="what an environment holds, uses, and could drop")
    p.add_argument("--python", help="the interpreter of the environment (default: this one)")
    p.add_argument("--profile", help="a usage profile: report used and unused bytes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LeanInstallError as exc:
        print(f"lean-install: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
