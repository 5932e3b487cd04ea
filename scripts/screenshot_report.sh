#!/usr/bin/env bash
# Build the report from this machine's records and screenshot it for the docs.
#   scripts/screenshot_report.sh [PROFILES_DIR] [PNG]
# Defaults: profiles/ -> reports/index.html -> docs/report-screenshot.png
# (1400x2400, headless Chromium; install it with scripts/system-deps.sh).
# Exits non-zero if a chart did not draw. Set DEMO=1 to use synthetic records
# instead (never commit that screenshot as "this machine's records").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PROFILES=${1:-profiles}
PNG=${2:-docs/report-screenshot.png}
HTML=reports/index.html
if [ "${DEMO:-0}" = 1 ]; then
  PROFILES=$(mktemp -d)/profiles
  PYTHONPATH=benchmarks "$PY" -c "from synthetic_records import write_synthetic as w; import sys; w(sys.argv[1], devices_dir=sys.argv[1] + '/../devices')" "$PROFILES"
  HTML=$(dirname "$PROFILES")/index.html
fi
"$PY" -m edgecnn.cli report --profiles "$PROFILES" --out "$HTML"
"$PY" -m edgecnn.report.screenshot "$HTML" "$PNG" --width "${WIDTH:-1400}" --height "${HEIGHT:-2400}"
