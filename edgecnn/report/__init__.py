"""edgecnn.report: the offline HTML report (Pareto fronts, cost vs time, the
separable check, per-layer rooflines, export quality, training curves and
provenance), built only from records.

    from edgecnn.report import build_report
    result = build_report("profiles", "reports/index.html")
    result.path, result.n_records, result.skipped
"""

from edgecnn.report.build import ReportResult, build_report, render
from edgecnn.report.pareto import dominates, front_mask, pareto_front

__all__ = ["ReportResult", "build_report", "render", "pareto_front", "front_mask", "dominates"]
