"""The conda plugin: ``conda lean strip|restore|config|trace|pack|report``, the
``lean_profile`` setting, a post-transaction action that applies it, and the
``lean-install`` health check.

conda loads this module through the entry point ``[project.entry-points.conda]
lean-install = "lean_install.conda.plugin"`` (pluggy). It is the only module of
lean-install that imports conda, and it is imported only by conda: ``hookimpl`` at the
top, as conda's own plugins do, and everything else inside the hooks' bodies. The hooks
parse and print; the work is in ``lean_install.conda.commands``, ``transaction``, ``pack``
and ``health``.

The post-transaction action never makes conda's command fail: whatever goes wrong there is
a warning on stderr (conda's stdout may be ``--json``), and the transaction stands.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from conda import plugins as _conda_plugins

if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

__all__ = [
    "conda_subcommands",
    "conda_health_checks",
    "conda_settings",
    "conda_post_transaction_actions",
]

_F = TypeVar("_F", bound=Callable[..., Any])
SUMMARY = "Lean environments: remove what a usage profile never used, restore it (lean-install)."


def _hookimpl(function: _F) -> _F:
    return cast(_F, _conda_plugins.hookimpl(function))


def _add_prefix(parser: ArgumentParser) -> None:
    from conda.cli.helpers import add_parser_prefix

    add_parser_prefix(parser)


def configure_parser(parser: ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="lean_command", metavar="COMMAND", required=True)
    strip = commands.add_parser(
        "strip",
        help="remove the files of the prefix's conda packages that the profile never used",
        description="Remove the files a usage profile never used from the conda packages of "
        "a prefix (default: the active environment); stubs stand where Python modules "
        "were, and each package's conda-meta record lists exactly what is left.",
    )
    _add_prefix(strip)
    strip.add_argument("--profile", help="the usage profile (lean-install trace)")
    strip.add_argument(
        "--policy",
        choices=("profile", "safe"),
        help="profile (the default with --profile): what the profile never used goes; "
        "safe (the default without): only what no program needs goes (tests, headers, docs)",
    )
    strip.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    from lean_install.options import add_library_options

    add_library_options(strip)
    strip.add_argument(
        "--on-miss",
        choices=("restore", "error", "log"),
        help="what a program does when it imports a removed module: bring it back from the "
        "package cache (restore, the default; log: and say so each time) or raise (error)",
    )
    restore = commands.add_parser(
        "restore",
        help="bring back the removed files of stripped packages from the package cache",
        description="Put back, byte for byte, the files conda lean strip removed, and the "
        "packages' original conda-meta records.",
    )
    _add_prefix(restore)
    restore.add_argument("packages", nargs="*", metavar="PACKAGE", help="package names")
    restore.add_argument("--all", action="store_true", help="every stripped package")
    restore.add_argument("--dry-run", action="store_true", help="print what would be restored")
    trace = commands.add_parser(
        "trace",
        help="trace a workload run with the prefix's python into a usage profile",
        description="lean-install trace with the prefix's bin/ first on PATH (python there "
        "is the prefix's): files that its conda-meta records list become conda usages.",
    )
    _add_prefix(trace)
    trace.add_argument("-o", "--output", required=True, help="the profile to write")
    trace.add_argument("--append", action="store_true", help="merge into an existing profile")
    trace.add_argument("--backend", choices=("python", "strace"), default="python")
    trace.add_argument("command", nargs="...", help="-- COMMAND [ARGS...]")
    config = commands.add_parser(
        "config",
        help="show or set what a program does when it reaches removed code (on-miss)",
        description="on-miss restore (the default): importing a removed module brings it "
        "back from the package cache and the import goes on; log: the same, said on stderr "
        "each time; error: the import raises the lean-install error. LEAN_INSTALL_ON_MISS "
        "overrides it for one process.",
    )
    _add_prefix(config)
    config.add_argument("key", choices=("on-miss",), help="the setting")
    config.add_argument(
        "value", nargs="?", choices=("restore", "error", "log"), help="its new value"
    )
    report = commands.add_parser(
        "report",
        help="what the prefix's conda packages hold, use and could drop",
        description="The bloat report of a prefix, per conda package (as lean-install "
        "report --prefix): bytes installed, used by the profile, removed by strip.",
    )
    _add_prefix(report)
    report.add_argument("--profile", help="a profile (file or bundled name): used bytes")
    report.add_argument("--json", action="store_true", help="the report as JSON")
    report.add_argument("--html", metavar="OUT", help="write a self-contained page")
    pack = commands.add_parser(
        "pack",
        help="write lean .conda packages of the prefix's packages into a local channel",
        description="Build, from conda's package cache, a lean .conda package (build string "
        "<build>_lean<digest>) of each package of the prefix the profile strips, copy the "
        "others whole, and index the channel: conda create -p NEW --override-channels "
        "-c file://CHANNEL ... makes a lean prefix from it.",
    )
    _add_prefix(pack)
    pack.add_argument("--profile", required=True, help="the usage profile (lean-install trace)")
    add_library_options(pack)
    pack.add_argument(
        "-o", "--output", required=True, metavar="CHANNEL_DIR", help="the channel directory"
    )
    pack.add_argument(
        "--lean-only",
        action="store_true",
        help="write only the lean packages (a prefix then needs the original channel too)",
    )
    pack.add_argument(
        "--indexer",
        choices=("auto", "rattler", "builtin"),
        default="auto",
        help="who writes repodata.json: py-rattler (auto: when importable) or lean-install",
    )


def _fail(error: Exception) -> int:
    from lean_install.errors import LeanInstallError

    print(f"conda lean: error: {error}", file=sys.stderr)
    if isinstance(error, LeanInstallError):
        for issue in getattr(error, "issues", ())[1:]:
            print(f"  {issue}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    return 1


def _strip(prefix: str, args: Namespace) -> int:
    from lean_install.conda import commands
    from lean_install.options import library_options

    symbols, gpu_archs = library_options(args)
    done, plan = commands.strip_prefix(
        prefix,
        args.profile,
        policy=args.policy,
        dry_run=args.dry_run,
        on_miss_mode=args.on_miss,
        symbols=symbols,
        gpu_archs=gpu_archs,
    )
    if done:
        print(done)
    for line in plan.describe():
        print(line)
    if args.dry_run:
        print("dry run: nothing was changed")
    elif plan.changed:
        print(_on_miss_line(prefix, commands.on_miss(prefix)))
    return 0


def _on_miss_line(prefix: str, mode: str) -> str:
    what = {
        "restore": "come back from the package cache when a program imports them",
        "log": "come back from the package cache when a program imports them, said on stderr",
        "error": "raise the lean-install error when a program imports them",
    }[mode]
    other = "error" if mode != "error" else "restore"
    return (
        f"on-miss is {mode}: removed modules {what}; change it with: "
        f"conda lean config -p {prefix} on-miss {other}"
    )


def _trace(prefix: str, args: Namespace) -> int:
    """``lean-install trace`` itself, with ``PREFIX/bin`` first on PATH."""
    import os
    from pathlib import Path

    from lean_install import cli
    from lean_install.conda.records import conda_meta

    conda_meta(prefix)
    command = list(args.command)
    command = command[1:] if command[:1] == ["--"] else command
    argv = ["trace", "-o", args.output, "--backend", args.backend]
    argv += ["--append"] if args.append else []
    before = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join([str(Path(prefix) / "bin"), *([before] if before else [])])
    try:
        return cli.main([*argv, "--", *command])
    finally:
        if before is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = before


def _config(prefix: str, args: Namespace) -> int:
    from lean_install.conda import commands

    if args.value is not None:
        commands.configure_on_miss(prefix, args.value)
    print(_on_miss_line(prefix, commands.on_miss(prefix)))
    return 0


def _restore(prefix: str, args: Namespace) -> int:
    from lean_install.conda import commands
    from lean_install.errors import UsageError

    if bool(args.packages) == bool(args.all):
        raise UsageError(
            "name the packages to restore, or give --all", hint="conda lean restore --all"
        )
    done, stems = commands.restore_prefix(prefix, tuple(args.packages), dry_run=args.dry_run)
    if done:
        print(done)
    verb = "would restore" if args.dry_run else "restored"
    print(f"{verb}: {', '.join(stems)}" if stems else "nothing to restore: no stripped package")
    return 0


def _report(prefix: str, args: Namespace) -> int:
    from lean_install.conda.report import report_lines

    text, code = report_lines(prefix, args.profile, as_json=args.json, html_path=args.html)
    print(text)
    return code


def _pack(prefix: str, args: Namespace) -> int:
    from lean_install.conda.pack import pack
    from lean_install.options import library_options

    symbols, gpu_archs = library_options(args)
    result = pack(
        prefix,
        args.profile,
        args.output,
        lean_only=args.lean_only,
        indexer=args.indexer,
        symbols=symbols,
        gpu_archs=gpu_archs,
    )
    for line in result.describe():
        print(line)
    return 0


def action(args: Namespace) -> int:
    from conda.base.context import context

    from lean_install.errors import LeanInstallError

    prefix = str(context.target_prefix)
    try:
        if args.lean_command == "strip":
            return _strip(prefix, args)
        if args.lean_command == "pack":
            return _pack(prefix, args)
        if args.lean_command == "config":
            return _config(prefix, args)
        if args.lean_command == "trace":
            return _trace(prefix, args)
        if args.lean_command == "report":
            return _report(prefix, args)
        return _restore(prefix, args)
    except LeanInstallError as error:
        return _fail(error)


def health_check(prefix: str, verbose: bool) -> None:
    """Report the lean state of ``prefix``; there is no fixer: nothing is reinstalled."""
    from conda.base.constants import OK_MARK, X_MARK

    from lean_install.conda.health import lean_state

    state = lean_state(prefix)
    for problem in state.problems:
        print(f"{X_MARK} lean-install: {problem}\n")
    if state.lean:
        print(f"{OK_MARK} lean-install: {len(state.lean)} package(s) stripped by lean-install:")
        for line in state.lean if verbose else state.lean[:0]:
            print(f"  {line}")
        print()
    elif state.ok:
        print(f"{OK_MARK} lean-install: no package stripped by lean-install.\n")


@_hookimpl
def conda_subcommands() -> Iterator[Any]:
    from conda.plugins.types import CondaSubcommand

    yield CondaSubcommand(
        name="lean", summary=SUMMARY, action=action, configure_parser=configure_parser
    )


@_hookimpl
def conda_health_checks() -> Iterator[Any]:
    from conda.plugins.types import CondaHealthCheck

    yield CondaHealthCheck(
        name="lean-install",
        action=health_check,
        summary="Packages stripped by lean-install, interrupted conda lean commands",
    )


# -- the lean_profile setting and the post-transaction action ------------------------------


@_hookimpl
def conda_settings() -> Iterator[Any]:
    from conda.common.configuration import PrimitiveParameter
    from conda.plugins.types import CondaSetting

    from lean_install.conda.transaction import SETTING

    yield CondaSetting(
        name=SETTING,
        description="A lean-install usage profile (a path). After conda install, create or "
        "update, lean-install strips the packages conda just installed in the prefix as "
        "`conda lean strip --profile` would (conda lean restore brings them back).",
        parameter=PrimitiveParameter("", element_type=str),
    )


def _stems(records: Iterable[Any] | None) -> list[str]:
    return [f"{r.name}-{r.version}-{r.build}" for r in records or ()]


def _warn(prefix: str, error: BaseException) -> None:
    from lean_install.conda.transaction import interrupted
    from lean_install.errors import LeanInstallError

    if isinstance(error, LeanInstallError):
        said = f"lean-install: warning: the lean_profile setting was not applied: {error}"
    else:
        said = (
            "lean-install: warning: applying the lean_profile setting failed "
            f"({type(error).__name__}: {error})"
        )
    lines = [said]
    lines += [f"  {issue}" for issue in getattr(error, "issues", ())[1:]]
    if interrupted(prefix):
        lines.append(
            f"  the strip stopped half-way: the next conda lean strip -p {prefix} completes "
            "it (conda doctor reports it meanwhile); conda's own transaction is complete"
        )
    else:
        lines.append(f"  {prefix} was left as conda made it")
    hint = getattr(error, "hint", None)
    if hint:
        lines.append(f"hint: {hint}")
    print("\n".join(lines), file=sys.stderr, flush=True)


def after_transaction(
    target_prefix: str | None, unlink_precs: Iterable[Any] | None, link_precs: Iterable[Any] | None
) -> None:
    """What the post-transaction action runs: never raises (a warning on stderr instead)."""
    if not target_prefix:
        return
    try:
        from conda.base.context import context

        from lean_install.conda.transaction import SETTING, after_transaction

        setting = getattr(context.plugins, SETTING, "")
        outcome = after_transaction(
            target_prefix,
            setting,
            _stems(link_precs),
            _stems(unlink_precs),
            on_forgotten=_say,
        )
    except Exception as error:  # the transaction is done: never fail conda's command here
        _warn(target_prefix, error)
        return
    _say(outcome)


def _say(outcome: Any) -> None:
    lines = outcome.describe()
    if lines:
        print("\n".join(lines), file=sys.stderr, flush=True)


@functools.cache
def _lean_profile_action() -> type[Any]:
    from conda.core.path_actions import Action

    class LeanProfileAction(Action):  # type: ignore[misc]
        """Apply the ``lean_profile`` setting to the prefix conda just changed."""

        def verify(self) -> None:
            self._verified = True  # nothing to refuse: the action never fails a transaction

        def execute(self) -> None:
            after_transaction(self.target_prefix, self.unlink_precs, self.link_precs)

        def reverse(self) -> None:
            pass  # execute never raises, so conda never calls this

        def cleanup(self) -> None:
            pass

    return LeanProfileAction


@_hookimpl
def conda_post_transaction_actions() -> Iterator[Any]:
    from conda.plugins.types import CondaPostTransactionAction

    yield CondaPostTransactionAction(name="lean-install-profile", action=_lean_profile_action())
