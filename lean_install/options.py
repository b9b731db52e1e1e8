"""Command lines that carry pip's arguments: lean-install's own options, then pip's.

``install``, ``wheel`` and ``lock`` take pip's requirements and options as they are
(``-r``, ``-c``, ``--index-url``, ...). ``split`` parses lean-install's options with the
command's argparse parser and hands the rest to pip, after checking that every option
left is one of pip's: a typo (``--profle``) is a usage error naming the closest option,
not a pip error. ``-h``/``--help`` anywhere is lean-install's help, so ``pip install
--lean --help`` (through the shell hook) shows it.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence

from lean_install.errors import UsageError
from lean_install.sources import PIP_FLAGS, PIP_OPTIONS_WITH_VALUE

__all__ = ["wants_help", "split", "parse", "add_library_options", "library_options"]

_PIP_OPTIONS = PIP_OPTIONS_WITH_VALUE | PIP_FLAGS


def wants_help(argv: Sequence[str]) -> bool:
    """``-h`` or ``--help`` before any ``--``."""
    for arg in argv:
        if arg == "--":
            return False
        if arg in ("-h", "--help"):
            return True
    return False


def _known_to_pip(arg: str) -> bool:
    if arg in _PIP_OPTIONS:
        return True
    option, eq, _ = arg.partition("=")
    if eq and option in PIP_OPTIONS_WITH_VALUE:
        return True
    short = arg[:2]
    return len(arg) > 2 and short in PIP_OPTIONS_WITH_VALUE  # -iURL, -rFILE


def _own_options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for action in parser._actions for o in action.option_strings if o != "--lean"]


def split(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, list[str]]:
    """lean-install's options (``parser``'s), and pip's arguments (what is left)."""
    args, rest = parser.parse_known_args(list(argv))
    pip_args: list[str] = []
    expects_value = False
    for arg in rest:
        if expects_value:
            pip_args.append(arg)
            expects_value = False
            continue
        if arg.startswith("-") and arg != "-" and not _known_to_pip(arg):
            known = _own_options(parser) + sorted(_PIP_OPTIONS)
            close = difflib.get_close_matches(arg.partition("=")[0], known, n=1, cutoff=0.7)
            hint = f"did you mean {close[0]}?" if close else f"see: {parser.prog} --help"
            raise UsageError(
                f"{parser.prog}: unknown option {arg} (neither lean-install's nor pip install's)",
                hint=hint,
            )
        expects_value = arg in PIP_OPTIONS_WITH_VALUE
        pip_args.append(arg)
    return args, pip_args


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``argv`` with ``parser``; a subcommand whose parser sets ``pass_through`` hands
    the rest to pip (checked by ``split``), and prints its help wherever it is asked."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = argv[0] if argv else ""
    sub = subparsers.choices.get(command)
    if sub is not None and sub.get_default("pass_through"):
        if wants_help(argv[1:]):
            sub.print_help()
            raise SystemExit(0)
        args, pip_args = split(sub, argv[1:])
        args.command_name = command
        return args, pip_args
    return parser.parse_args(argv), []


def add_library_options(parser: argparse.ArgumentParser) -> None:
    """``--keep-symbols`` and ``--gpu-arch``: what happens inside the kept shared libraries
    (pip's commands and ``conda lean strip`` take the same two)."""
    parser.add_argument("--keep-symbols", action="store_true", help="keep libraries' symbol tables")
    parser.add_argument(
        "--gpu-arch", metavar="sm_XY[,...]", help="libraries keep these GPUs' code only"
    )


def library_options(args: argparse.Namespace) -> tuple[bool, tuple[int, ...]]:
    """Whether symbols go, and the GPU architectures kept (none: all), from ``args``."""
    from lean_install.fatbin import archs

    return not args.keep_symbols, archs(args.gpu_arch) if args.gpu_arch else ()
