"""The shell integration: ``eval "$(lean-install shell-hook)"`` defines a ``pip`` function
that hands ``pip install --lean ...`` to ``lean-install install`` (for the ``python3`` on
the PATH: the active environment) and everything else to the real pip."""

from __future__ import annotations

__all__ = ["hook"]

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


def hook(shell: str) -> str:
    """The shell function for ``shell`` (bash and zsh share the POSIX one)."""
    return _FISH_HOOK if shell == "fish" else _POSIX_HOOK
