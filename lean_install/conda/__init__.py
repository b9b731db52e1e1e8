"""The conda side: lean conda prefixes, made by editing a prefix and its records.

A conda prefix records each installed package in ``conda-meta/<name>-<version>-<build>.json``
(its ``files`` and ``paths_data``); conda's own commands (``conda list``, ``conda remove``,
``conda doctor``) read those records. lean-install removes the files a usage profile says
were never used, writes stubs where Python modules were, and rewrites each record so it
lists exactly what is on disk; ``restore`` brings the originals back from conda's
package cache.

Nothing here imports conda: lean-install runs without it. ``plugin`` is the one module
that talks to conda, and only inside its hooks.

- ``records``: reading and writing ``conda-meta/*.json`` (``PrefixRecord``);
- ``attribution``: which package a file of a prefix belongs to (for the tracer);
- ``plan``: which files of each package a strip removes (``StripPlan``);
- ``reserve``: where removed files come back from (the package cache);
- ``manifest``: what a strip removed, per package (``lean-install/conda/*.json``);
- ``journal``: a strip or restore under way, completed by the next command;
- ``strip`` and ``restore``: the two operations; ``health``: a prefix's lean state;
- ``transaction``: the ``lean_profile`` setting, applied after a conda transaction;
- ``pack``: lean ``.conda`` packages built from the package cache, in a local channel;
- ``channel``: a local channel's ``repodata.json`` (for ``pack``);
- ``report``: the bloat report of a prefix, per conda package (``lean-install report --prefix``);
- ``plugin``: ``conda lean strip|restore|config|trace|pack|report``, the setting, the
  post-transaction action and a ``conda doctor`` health check.

The record types and the package-cache reads are in ``lean_install.runtime``
(``conda_records``, ``conda_reserve``: standard library only), copied into each stripped
prefix (``PREFIX/lean-install/runtime/<digest>/``), where stubs load them to bring removed
modules back on import (the prefix's on-miss mode).
"""

from __future__ import annotations

__all__: list[str] = []
