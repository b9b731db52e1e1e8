"""Siblings on a real wheel: what a curated profile keeps beside the modules it saw imported."""

from __future__ import annotations

from pathlib import Path

from conftest import build_wheel
from packaging.utils import canonicalize_name

from lean_install.listing import Contents
from lean_install.siblings import siblings
from lean_install.wheel import OriginalWheel

FILES = {
    "pkg/__init__.py": "from pkg import used\n",
    "pkg/used.py": "X = 1\n",
    "pkg/near.py": (
        "from .sub import thing\nfrom pkg import _fast\n\ndef f():\n    import pkg.late\n"
    ),
    "pkg/_fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF not really",
    "pkg/late.py": "",
    "pkg/broken.py": "def (:\n",
    "pkg/probed.py": "",
    "pkg/sub/__init__.py": "from ._impl import thing\n",
    "pkg/sub/_impl.py": "from ..deep.leaf import value\nthing = value\n",
    "pkg/deep/__init__.py": "",
    "pkg/deep/leaf.py": "import numpy\nvalue = 2\n",
    "pkg/deep/other.py": "",
    "pkg/unused/__init__.py": "",
    "pkg/unused/mod.py": "",
    "pkg/tests/__init__.py": "",
    "pkg/tests/test_near.py": "",
}


def test_siblings_and_what_they_import_at_their_top_level(tmp_path: Path) -> None:
    wheel_path = build_wheel(tmp_path, "pkg", "1.0", FILES)
    with OriginalWheel.open(wheel_path) as wheel:
        contents = Contents(wheel.listing(), canonicalize_name("pkg"))
        keep = {"pkg/__init__.py", "pkg/used.py", "pkg/tests/__init__.py"}
        found = siblings(contents, keep, wheel.read)
    assert found == {
        "pkg/near.py",  # beside pkg/used.py
        "pkg/late.py",  # beside too (its import inside a function is not followed)
        "pkg/broken.py",  # kept as it is: a source that does not parse adds nothing
        "pkg/probed.py",  # probed or not
        "pkg/_fast.cpython-311-x86_64-linux-gnu.so",  # imported by near.py at its top
        "pkg/sub/__init__.py",  # from .sub import thing
        "pkg/sub/_impl.py",  # what sub/__init__ imports
        "pkg/deep/__init__.py",  # from ..deep.leaf: the package and the module
        "pkg/deep/leaf.py",
    }
    # not: pkg/deep/other.py and pkg/unused/ (nothing
    # imports them, and they are not beside an imported module), pkg/tests/test_near.py
    # (a test, though its package was imported)
