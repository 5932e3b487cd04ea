"""``edgecnn calibrate`` as users call it: what it would measure, and bad input as one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def edgecnn(*args):
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize("args, says", [
    (("calibrate",), "Missing option '--device'"),
    (("calibrate", "--device", "local", "--bogus"), "No such option: --bogus"),
    (("calibrate", "--device", "jetsn"), "unknown device 'jetsn'"),
    (("calibrate", "--device", "local", "--precision", "fp8"), "--precision must be fp32, fp16 or int8"),
    (("calibrate", "--device", "local", "--runtimes", "onnxrt"), "onnxrt"),
    (("calibrate", "--device", "local", "--max-models", "40"), "--max-models"),
    (("calibrate", "--device", "local", "--models", "resnet1"), "resnet1"),
])
def test_bad_input_is_one_error_line_and_exit_2(args, says):
    res = edgecnn(*args)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and len(errors) == 1 and says in errors[0], res.stderr
    assert "Traceback" not in res.stderr


def test_dry_run_names_at_most_max_models_spread_over_sizes():
    res = edgecnn("calibrate", "--device", "jetson-orin-nano", "--runtimes", "onnxruntime", "--max-models", "5",
                  "--dry-run")
    assert res.returncode == 0, res.stderr
    names = [n.strip() for n in res.stdout.strip().split(",")]
    from edgecnn.profile.calibrate import CANDIDATES

    assert len(names) == len(set(names)) == 5 and set(names) <= set(CANDIDATES)
    # spread over sizes: the chosen models' MACs span more than a factor of 4
    from edgecnn.cost.layer_class import field_of
    from edgecnn.predict.dataset import cost_rows

    # rows are LayerCost objects, or the dicts of cost records an earlier test in this process read
    macs = sorted(sum(field_of(r, "macs") or 0 for r in cost_rows(n, 224)) for n in names)
    assert macs[-1] / macs[0] > 4
