"""A command's session: the target environment, the cache and the progress display, open
for the whole command; an install a killed lean-install left there is completed first,
and Ctrl-C says what state the environment was left in and what completes it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from lean_install.cache import Cache
from lean_install.environment import Environment
from lean_install.errors import LeanInstallError
from lean_install.install import recover
from lean_install.journal import Journal
from lean_install.progress import make_progress
from lean_install.target import TargetPip, choose_installer

__all__ = ["Session", "session"]


def _say(message: str) -> None:
    print(f"lean-install: {message}", file=sys.stderr, flush=True)


class Session:
    """One command's target, cache and progress display (open for the whole command)."""

    def __init__(self, args: argparse.Namespace, *, quiet: bool = False) -> None:
        self.python = getattr(args, "python", None)
        self.env = Environment.inspect(self.python)
        self.cache = Cache.default()
        self.progress = make_progress(quiet or getattr(args, "quiet", False))
        installer = choose_installer(getattr(args, "installer", "auto") or "auto")
        self.target = TargetPip(
            self.env, installer=installer, resolver=getattr(args, "resolver", "auto") or "auto"
        )

    def recover(self) -> None:
        """Complete an install a killed lean-install left in the target, first."""
        if recover(self.env, self.target, self.progress):
            self.env = Environment.inspect(self.python)
            self.target = replace(self.target, env=self.env)


@contextmanager
def session(
    args: argparse.Namespace, *, quiet: bool = False, recover: bool = True
) -> Iterator[Session]:
    current = Session(args, quiet=quiet)
    with current.progress:
        try:
            if recover:
                current.recover()
            yield current
        except KeyboardInterrupt:
            current.progress.close()
            _interrupted(current)
            raise


def _interrupted(session: Session) -> None:
    try:
        left = Journal.read(session.env)
    except LeanInstallError:
        left = None
    if left is None:
        _say("interrupted; nothing in the environment was changed")
        return
    _say(
        f"interrupted while changing {session.env.prefix}: it is half-installed. Any "
        f"lean-install command on it completes the install first, for example:\n"
        f"  lean-install verify --python {session.env.executable}"
    )
