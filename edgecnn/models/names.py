"""The zoo's names and model cards without loading the zoo.

Registering the zoo imports torch and torchvision (7 s on a 2-core machine);
listing it, describing a model or checking ``--models mobilenet_v9`` should
not. ``cards_table.py`` holds every registered ``ModelCard`` and the parameter
count of the built model at its default and reference configurations, as
Python data generated from the registry; ``tests/test_model_names.py`` fails
when it differs from what the family files register (regenerate it with
``python -m edgecnn.models.names``).
"""

from __future__ import annotations

import sys
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

from edgecnn.models._registry import ModelCard
from edgecnn.models.cards_table import CARDS, PARAMS
from edgecnn.registry import Registry

ZOO_NAMES = tuple(CARDS)
TABLE = Path(__file__).with_name("cards_table.py")


def zoo_loaded() -> bool:
    """True once this process has registered the zoo (imported the family files)."""
    return "edgecnn.models._families" in sys.modules


def model_names() -> Registry:
    """A registry of model names for checking and expanding ``--models``: the
    loaded zoo itself when this process has loaded it already (models registered
    through the API count then), else the name list above (no torch import).
    Lookups, wildcards and "did you mean" behave the same on both."""
    if zoo_loaded():
        from edgecnn.models import MODELS

        return MODELS
    names: Registry = Registry("model")
    for name in ZOO_NAMES:
        names.add(name, name)
    return names


def model_card(name: str) -> ModelCard:
    """The card of model ``name`` (an unknown name is one line with the closest):
    the loaded registry's when the zoo is loaded, else the generated table's."""
    if zoo_loaded():
        from edgecnn.models import get_card

        return get_card(name)
    model_names().get(name)
    return CARDS[name]


def model_cards(pattern: str | None = None) -> list[ModelCard]:
    """The cards of the models ``pattern`` (wildcards, comma-separated) matches, sorted by name."""
    return [model_card(n) for n in model_names().list(pattern)]


def counted_params(name: str, input_size: int, num_classes: int) -> int | None:
    """Parameters of the zoo model built at (``input_size``, ``num_classes``) with
    its default options, when the table holds that configuration (its default
    and the reference ones); else None (build the model to count them)."""
    return PARAMS.get(name, {}).get((input_size, num_classes))


# ---------------------------------------------------------------------------
# the generator: python -m edgecnn.models.names [--check]
# ---------------------------------------------------------------------------
HEADER = '''"""Every zoo model's card, and its parameter count as built, without importing torch.

Generated from the registry by `python -m edgecnn.models.names`; do not edit
(tests/test_model_names.py regenerates it and fails on any difference).
PARAMS: name -> {(input_size, num_classes): parameters of the built model}.
"""

from edgecnn.models._registry import ModelCard, Reference, TorchvisionWeights  # noqa: F401

'''


def _literal(value: Any) -> str:
    """Python source that evaluates to ``value``; dataclass fields left at their default are left out."""
    if is_dataclass(value) and not isinstance(value, type):
        args = []
        for f in fields(value):
            v = getattr(value, f.name)
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else MISSING)  # type: ignore[misc]
            if default is MISSING or v != default:
                args.append(f"{f.name}={_literal(v)}")
        return f"{type(value).__name__}({', '.join(args)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _card_source(card: ModelCard) -> str:
    """One card: its fields on one line, each reference figure on a line of its own."""
    head = _literal(card.__class__(**{**card.__dict__, "references": {}}))
    refs = "".join(f"        {_literal(k)}: {_literal(r)},\n" for k, r in card.references.items())
    if not refs:
        return f"    {card.name!r}: {head},\n"
    return f"    {card.name!r}: {head[:-1]}, references={{\n{refs}    }}),\n"


def _configs(card: ModelCard) -> list[tuple[int, int]]:
    return sorted({(card.input_size, card.num_classes), *card.references})


def table_source() -> str:
    """cards_table.py as the registry says it should read (builds every model on the meta device)."""
    import torch

    from edgecnn.models import MODELS, count_params, create_model, get_card

    cards = "".join(_card_source(get_card(n)) for n in MODELS)
    rows = []
    for name in MODELS:
        counts = {}
        for size, classes in _configs(get_card(name)):
            with torch.device("meta"):  # shapes only: parameters count the same, nothing is allocated
                counts[(size, classes)] = count_params(create_model(name, input_size=size, num_classes=classes))
        rows.append(f"    {name!r}: {_literal(counts)},\n")
    return (HEADER + "CARDS: dict[str, ModelCard] = {\n" + cards + "}\n\n"
            "PARAMS: dict[str, dict[tuple[int, int], int]] = {\n" + "".join(rows) + "}\n")


def main(argv: list[str]) -> int:
    from edgecnn.generated import write_or_check

    text = table_source()
    return write_or_check(TABLE, text, argv, "python -m edgecnn.models.names", f"{text.count('ModelCard(')} cards")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
