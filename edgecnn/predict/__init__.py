"""edgecnn.predict: the latency model for devices edgecnn cannot measure.

``roofline``: per-layer roofline bounds of a compute unit, the per-op-class
fit (slowdown, overhead) and the prediction, never faster than the roof.
``calibrate``: the fit on this machine's measured per-layer records, the
leave-one-model-out errors, and the error band of the latest validation
(``benchmarks/bench_predict.py``). The profile step that writes predicted
records is ``edgecnn.profile.predicted``.
"""

from __future__ import annotations

from edgecnn.predict.roofline import (FUSING_RUNTIMES, Calibration, OpFit, fit_calibration, fused_rows,
                                      predict_layers, predict_model_ms, roofline_ms)

__all__ = ["FUSING_RUNTIMES", "Calibration", "OpFit", "fit_calibration", "fused_rows", "predict_layers",
           "predict_model_ms", "roofline_ms"]
