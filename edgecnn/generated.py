"""Generated source tables (the zoo's cards, the runtime and format catalog):
write one, or check it is up to date, from its module's command line."""

from __future__ import annotations

from pathlib import Path


def write_or_check(table: Path, text: str, argv: list[str], command: str, done: str = "") -> int:
    """``--check`` in ``argv``: compare ``table`` with ``text`` (exit 1 when it
    differs, naming ``command``); else write it. Returns the exit status."""
    if "--check" in argv:
        same = table.read_text(encoding="utf-8") == text
        print(f"{table} is {'up to date' if same else f'out of date: run {command}'}")
        return 0 if same else 1
    table.write_text(text, encoding="utf-8")
    print(f"wrote {table}{f' ({done})' if done else ''}")
    return 0
