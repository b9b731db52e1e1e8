"""lean-install: debloated Python environments, built at install time from a usage profile."""

__all__ = ["__version__"]

__version__ = "0.1.0"
