"""edgecnn.predict: latency for devices edgecnn cannot measure.

``roofline``: one layer's roofline bound on a compute unit, and the layers a
runtime fuses. ``latency_model``: a model's latency as the sum of its kernels
with per-device, per-runtime parameters (slowdown and per-kernel cost per op
class, a per-call cost), their prior from other devices and their fit.
``dataset``: the measurements in a records folder, each with its unit's roof.
``validate``: leave-one-device-out (``benchmarks/bench_predict.py``).
``calibrate``: the parameters and error band for one situation, and the
``calibration`` record ``edgecnn calibrate`` writes. The profile step that
writes predicted records is ``edgecnn.profile.predicted``.
"""

from __future__ import annotations

from edgecnn.predict.roofline import FUSING_RUNTIMES, fused_rows, roofline_ms

__all__ = ["FUSING_RUNTIMES", "fused_rows", "roofline_ms"]
