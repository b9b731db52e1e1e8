"""The one error hierarchy of lean-install.

Every error carries structured fields and builds its message from them; only the CLI
turns an error into text with a hint. Each specific error also inherits the built-in
it stands for, so callers may catch ``ValueError`` or ``OSError`` as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from lean_install.runtime.tables import Issue

__all__ = [
    "LeanInstallError",
    "Issue",
    "InvalidInputError",
    "ProfileError",
    "ProfileIssue",
    "RecordError",
    "CommandNotFoundError",
    "EnvironmentInspectionError",
    "ToolMissingError",
    "WheelError",
    "HashMismatchError",
    "ResolutionError",
    "PipError",
    "PlanError",
    "UsageError",
    "RestoreError",
    "RecoveryError",
    "OutputError",
    "LockError",
    "LockEnvironmentError",
    "CondaPrefixError",
]


def _more(count: int) -> str:
    if count <= 1:
        return ""
    return f" (and {count - 1} more problem{'s' if count > 2 else ''})"


class LeanInstallError(Exception):
    """Base of every error lean-install raises on purpose.

    ``hint`` says what the user can do about it; ``exit_code`` is what the CLI exits with.
    """

    exit_code = 1
    hint: str | None = None


ProfileIssue = Issue
"""One problem in a profile (the issue type every validating reader collects)."""


class InvalidInputError(LeanInstallError, ValueError):
    """Input that cannot be used: every problem found in it (``issues``, each an ``Issue``
    with its place or a plain sentence), collected before raising once."""

    exit_code = 2
    what = "invalid input"

    def __init__(self, source: str, issues: Sequence[Issue | str], hint: str | None = None) -> None:
        self.source = source
        self.issues = tuple(issues)
        if hint is not None:
            self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        first = self.issues[0] if self.issues else self.what
        return f"{self.source}: {first}{_more(len(self.issues))}"


class ProfileError(InvalidInputError):
    """A usage profile that cannot be read: all problems found, with their places."""

    what = "invalid profile"


class RecordError(InvalidInputError):
    """A record lean-install keeps (state, manifest, journal, plan) that is damaged."""

    what = "damaged record"


class CommandNotFoundError(LeanInstallError, FileNotFoundError):
    """The workload command does not exist; exit 127 as a shell does."""

    exit_code = 127

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"command not found: {command}")


class ToolMissingError(LeanInstallError, FileNotFoundError):
    """An external program lean-install needs (strace, pip) is not installed."""

    def __init__(self, tool: str, install_hint: str) -> None:
        self.tool = tool
        self.hint = install_hint
        super().__init__(f"{tool} is not installed")


class EnvironmentInspectionError(LeanInstallError, OSError):
    """The target interpreter could not be run or described itself oddly."""

    def __init__(self, python: str, detail: str) -> None:
        self.python = python
        self.detail = detail
        super().__init__(f"cannot inspect the environment of {python}: {detail}")


class WheelError(InvalidInputError):
    """A wheel that is corrupt or unsafe: all problems found in it."""

    what = "invalid wheel"

    @property
    def wheel(self) -> str:
        return self.source


class HashMismatchError(LeanInstallError, ValueError):
    """A downloaded file whose hash is not the one the resolution promised."""

    exit_code = 2

    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(f"{path}: hash {actual} does not match the expected {expected}")


class ResolutionError(LeanInstallError):
    """pip could not resolve the requirements."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"pip could not resolve the requirements:\n{detail}")


class PipError(LeanInstallError):
    """A pip subprocess failed."""

    def __init__(self, command: Sequence[str], returncode: int, output: str) -> None:
        self.command = tuple(command)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{' '.join(self.command[:4])} ... failed (exit {returncode}):\n{tail}")


class _Explained(LeanInstallError):
    """An error told in one sentence (``detail``), with what to do about it (``hint``)."""

    def __init__(self, detail: str, hint: str | None = None) -> None:
        self.detail = detail
        self.hint = hint
        super().__init__(detail)


class PlanError(_Explained, ValueError):
    """A plan that cannot be made from what was given (a policy without its profile)."""

    exit_code = 2


class UsageError(_Explained):
    """A command line that cannot be run as given."""

    exit_code = 2


class RestoreError(_Explained):
    """A distribution that lean-install did not install, or whose original is gone."""


class RecoveryError(_Explained):
    """An interrupted install that cannot be completed as it is."""


class OutputError(LeanInstallError, OSError):
    """A file lean-install was asked to write cannot be written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


class LockError(InvalidInputError):
    """A lock that cannot be used as it is: every problem found in it, then refused."""

    what = "cannot be used"

    @property
    def lock(self) -> str:
        return self.source

    def _message(self) -> str:
        return f"{self.source}: " + "\n  ".join(str(i) for i in self.issues or (self.what,))


class LockEnvironmentError(LockError):
    """A lock made for another Python or platform than the target environment's."""

    def __init__(self, lock: str, locked_for: str, target: str, detail: str) -> None:
        self.locked_for = locked_for
        self.target = target
        self.detail = detail
        issue = f"made for {locked_for}, but the target is {target} ({detail})"
        super().__init__(lock, [issue], hint="lock again on (or with --python for) the target")


# -- the conda side (lean_install/conda) ---------------------------------------------------


class CondaPrefixError(_Explained, FileNotFoundError):
    """A directory that is not a conda prefix (no ``conda-meta``), or a conda package that
    is not installed in it."""

    exit_code = 2
