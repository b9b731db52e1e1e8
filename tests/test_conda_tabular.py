"""The tabular stack (numpy, pandas, scikit-learn and their dependencies) as conda packages,
against the real conda 26.7.1: bench/conda_tabular.py converts the PyPI wheels (from the
index, through pip), makes a prefix with conda, traces profiles/workloads/tabular_sklearn.py
there, strips it with ``conda lean strip``, packs it with ``conda lean pack`` and makes a
fresh prefix from that channel. Slow (about 2.5 minutes here) and needs the package index.
"""

from __future__ import annotations

import sys
from pathlib import Path

import condakit
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_tabular_stack_as_conda_packages_is_lean_and_works(tmp_path: Path) -> None:
    if condakit.find_conda_tarball() is None:
        pytest.skip("the vendored conda release source (shared/vendor/conda-*.tar.gz) is missing")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import conda_tabular
    finally:
        sys.path.remove(str(REPO / "bench"))
    result = conda_tabular.measure(tmp_path / "work", pack=True)
    print(conda_tabular.table(result))
    assert {"numpy", "pandas", "scikit-learn", "scipy", "python"} <= set(result["packages"])
    assert result["workload_full_passes"]
    assert result["workload_lean_passes"], result["workload_output"]
    assert result["doctor_clean"]
    assert result["packages"]["python"]["lean"] == result["packages"]["python"]["full"]
    # the issue's figure: lean/full at most 0.60 of the conda packages' bytes, with the
    # interpreter package (kept whole) and without it
    assert result["ratio"] <= 0.60, conda_tabular.table(result)
    assert result["ratio_without_python"] <= 0.60, conda_tabular.table(result)
    fresh = result["fresh"]
    assert fresh["workload_passes"] and fresh["doctor_clean"]
    assert fresh["lean_bytes_without_python"] <= result["lean_bytes_without_python"] * 1.01
