"""One generic registry: models, exporters, runtimes and transports all use it.

Register by name (duplicates refused), look up with a "did you mean" on a miss,
list with shell-style wildcards.
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Callable, Generic, Iterator, TypeVar

from edgecnn.errors import EdgeCNNError

T = TypeVar("T")


class UnknownNameError(EdgeCNNError, KeyError):
    """A name that is not in a registry; the message suggests the closest names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(EdgeCNNError, ValueError):
    """A second registration under a name that is already taken."""


class Registry(Generic[T]):
    """A name -> item map with wildcard listing and did-you-mean lookups.

    ``kind`` is the human word for what is registered ("model", "runtime", ...)
    and is used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    # -- registration -----------------------------------------------------
    def add(self, name: str, item: T) -> T:
        if not name or name != name.strip():
            raise ValueError(f"invalid {self.kind} name {name!r}")
        if name in self._items:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator form: ``@REG.register("name")`` (defaults to ``__name__``)."""

        def deco(item: T) -> T:
            self.add(name or getattr(item, "__name__"), item)
            return item

        return deco

    # -- lookup -----------------------------------------------------------
    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = self.suggest(name)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (see the full list with `edgecnn {self.kind}s`)"

    def suggest(self, name: str, n: int = 3) -> list[str]:
        names = list(self._items)
        close = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
        if not close:  # prefix / substring match helps for short names like "mobilenet"
            low = name.lower()
            close = [k for k in names if low in k.lower()][:n]
        return close

    def list(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a wildcard (``mobilenet*``) or a
        comma-separated list of wildcards."""
        names = sorted(self._items)
        if not pattern:
            return names
        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())


def expand_names(registry: Registry, spec: str) -> list[str]:
    """Expand ``"mobilenet_v1,resnet*"`` into registered names, in the order
    given; a plain name that is not registered raises with suggestions, a
    wildcard that matches nothing raises too."""
    out: list[str] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if any(ch in part for ch in "*?["):
            hits = registry.list(part)
            if not hits:
                raise UnknownNameError(f"no {registry.kind} matches {part!r}")
        else:
            registry.get(part)
            hits = [part]
        out.extend(h for h in hits if h not in out)
    if not out:
        raise UnknownNameError(f"no {registry.kind} names given")
    return out
