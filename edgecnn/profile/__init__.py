"""edgecnn.profile: time models on runtimes and devices, per layer, with the
separable check and roofline predictions; ``edgecnn profile`` drives it."""

from __future__ import annotations

from edgecnn.profile.pipeline import DEFAULT_TIMING, ProfileOptions, predict_records, profile, profile_local

DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"]

__all__ = ["DEFAULT_MODELS", "DEFAULT_TIMING", "ProfileOptions", "predict_records", "profile", "profile_local"]
