"""edgecnn.profile: time models on runtimes and devices, per layer, with the
separable check and roofline predictions; ``edgecnn profile`` drives it.

The pipeline is loaded on first use (PEP 562): it pulls in torch and the
exporters (seconds), and `edgecnn profile` checks its options (``parse_shape``,
``DEFAULT_MODELS``) before it pays for them, so a usage error is one quick line.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"]

_PIPELINE = ("DEFAULT_TIMING", "ProfileOptions", "predict_records", "profile", "profile_local")
__all__ = ["DEFAULT_MODELS", *_PIPELINE]


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from edgecnn.profile import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'edgecnn.profile' has no attribute {name!r}")
