"""Recall of the default tracer against strace, on one run of a workload.

    python bench/recall.py ENV/bin/python profiles/workloads/torch_train.py

Runs the workload once under ``lean-install trace --backend strace``, which records both
the Python bootstrap's view and ``strace -f``'s (successful opens, stats, accesses,
readlinks, execs, in every process). Both are attributed to the installed
distributions' RECORD files; the recall of the default (python) backend is the share
of the files strace saw that it also lists, as loaded or probed.
"""

from __future__ import annotations

import sys

from lean_install.tracing import trace

__all__ = ["main"]


def _files(profile: object) -> set[tuple[str, str]]:
    return {
        (d.name, f)
        for d in profile.distributions  # type: ignore[attr-defined]
        for f in (*d.files, *d.probed)
    }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    result = trace(argv, backend="strace")
    ground = _files(result.by_backend_profile("strace"))
    ours = _files(result.by_backend_profile("python"))
    both = _files(result.profile)
    missed = sorted(ground - ours)
    print(f"workload exit code: {result.exit_code}; Python processes: {result.raw.processes}")
    print(f"site-packages files strace saw used: {len(ground):,}")
    print(f"listed by the default backend: {len(ground & ours):,} "
          f"({len(ground & ours) / max(len(ground), 1):.2%})")  # fmt: skip
    print(f"listed with --backend strace: {len(ground & both):,} "
          f"({len(ground & both) / max(len(ground), 1):.2%})")  # fmt: skip
    for name, path in missed[:20]:
        print(f"  missed by the default backend: {name} {path}")
    return 0 if result.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
