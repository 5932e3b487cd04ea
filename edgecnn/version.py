"""The version of edgecnn (the package root re-exports it; parts import it from here)."""

__version__ = "0.1.0"
