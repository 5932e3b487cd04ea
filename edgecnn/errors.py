"""Errors a user can cause. The CLI prints these as one line and exits non-zero;
anything else is a bug and keeps its traceback."""

from __future__ import annotations


class EdgeCNNError(Exception):
    """Base class for user-facing errors (bad name, bad option, bad file)."""

    exit_code: int = 2


class MissingDependencyError(EdgeCNNError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, module: str, extra: str, what: str = "") -> None:
        purpose = f" (needed for {what})" if what else ""
        super().__init__(
            f"{module} is not installed{purpose}; install it with "
            f"`pip install 'edgecnn[{extra}]'`"
        )
        self.module = module
        self.extra = extra


class InvalidOptionError(EdgeCNNError, ValueError):
    """An option value or a combination of options that cannot work."""


class CorruptFileError(EdgeCNNError):
    """A checkpoint, artifact or record file that cannot be read."""


def require(module: str, extra: str, what: str = ""):
    """Import an optional module or raise MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # ImportError covers ModuleNotFoundError
        raise MissingDependencyError(module, extra, what) from exc
