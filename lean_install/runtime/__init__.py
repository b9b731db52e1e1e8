"""The runtime: lean-install's standard-library-only layer.

Everything here runs in two places: inside lean-install, as its bottom layer (the facts
of the wheel layout, the on-disk records, the shared-library reader), and inside every
lean environment, where each lean distribution carries a copy of this package in its
``.dist-info`` (``lean_install_runtime/``) that its stubs and its startup hook load by
path. So it imports only the standard library and its own modules (relatively), never
``lean_install`` or anything installed.
"""

working: list[bool] = []
"""Not empty while the reserve is restoring in this process: the startup hook's finder and
audit hook stand aside then (the reserve's own listings and reads are not misses)."""
