"""One zoo model described for `edgecnn info`: its card, the configuration it
builds and its parameter count.

The card and, at the default and reference configurations, the parameter
count come from the generated card table (``names.py``: no torch, a few
milliseconds); another configuration, or the layer table, builds the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from edgecnn.models._registry import ModelCard, resolve_config
from edgecnn.models.names import counted_params, model_card


@dataclass
class ModelInfo:
    card: ModelCard
    config: dict[str, Any]  # what create_model builds: name, num_classes, input_size, options
    params: int  # parameters of the built model
    layers: Optional[list[dict[str, Any]]] = None  # summary.layer_table rows, when asked for

    def to_dict(self) -> dict[str, Any]:
        out = {"card": self.card.to_dict(), "config": self.config, "params": self.params}
        if self.layers is not None:
            out["layers"] = self.layers
        return out


def check_config(name: str, *, input_size: int | None = None, num_classes: int | None = None,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The configuration zoo model ``name`` would be built with, checked against
    its card (an unknown name, a size below its smallest input, an option it
    does not take: one line), without torch."""
    return resolve_config(model_card(name), input_size=input_size, num_classes=num_classes, options=options)


def model_info(name: str, *, input_size: int | None = None, num_classes: int | None = None,
               options: dict[str, Any] | None = None, layers: bool = False) -> ModelInfo:
    """Describe zoo model ``name`` at the given configuration (card defaults
    otherwise). An unknown name, a size below the model's smallest input or an
    option it does not take is one line before torch loads. ``layers`` builds
    the model and runs one forward pass for the layer table."""
    options = dict(options or {})
    card = model_card(name)
    config = resolve_config(card, input_size=input_size, num_classes=num_classes, options=options)
    size, classes = config["input_size"], config["num_classes"]
    params = None
    if config == resolve_config(card, input_size=size, num_classes=classes):  # default options
        params = counted_params(name, size, classes)
    if params is not None and not layers:
        return ModelInfo(card, config, params)
    from edgecnn.models import count_params, create_model

    model = create_model(name, input_size=size, num_classes=classes, **options)
    rows = None
    if layers:
        from edgecnn.models.summary import layer_table

        rows = layer_table(model, size)
    return ModelInfo(card, dict(model.edgecnn_config), count_params(model), rows)
