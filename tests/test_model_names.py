"""The zoo's names without loading the zoo: the static list equals what the
family files register, and bad names fail before torch is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_card_table_is_the_registered_zoo():
    """cards_table.py is what the generator writes from the registry: the same names
    (sorted, as the registry lists them), equal cards and the parameters each built model has."""
    from edgecnn.models import MODELS, get_card
    from edgecnn.models.names import CARDS, TABLE, ZOO_NAMES, table_source

    missing, extra = sorted(set(MODELS) - set(ZOO_NAMES)), sorted(set(ZOO_NAMES) - set(MODELS))
    assert not missing and not extra, (
        f"edgecnn/models/cards_table.py is out of date (missing {missing}, not registered {extra}); "
        f"run `python -m edgecnn.models.names`")
    assert list(ZOO_NAMES) == list(MODELS)
    changed = [n for n in MODELS if CARDS[n] != get_card(n)]
    assert not changed, f"cards changed since cards_table.py was generated: {changed}"
    assert table_source() == TABLE.read_text(encoding="utf-8"), "run `python -m edgecnn.models.names`"


def test_lookups_and_suggestions_match_the_registry():
    from edgecnn.models import MODELS
    from edgecnn.models.names import ZOO_NAMES
    from edgecnn.registry import Registry, UnknownNameError, expand_names

    static: Registry = Registry("model")
    for n in ZOO_NAMES:
        static.add(n, n)
    for spec in ("mobilenet*", "resnet18,vgg1?", "efficientnet_b[0-2]"):
        assert expand_names(static, spec) == expand_names(MODELS, spec)
    for bad in ("mobilenet_v9", "resnet", "efficentnet_b0"):
        with pytest.raises(UnknownNameError) as a:
            expand_names(static, bad)
        with pytest.raises(UnknownNameError) as b:
            expand_names(MODELS, bad)
        assert str(a.value) == str(b.value)


# Each is a usage error `edgecnn` must report without importing torch (seconds on a small machine).
BAD = [
    (["profile", "--models", "mobilenet_v9"], "did you mean: mobilenet_v2"),
    (["profile", "--runtimes", "onnxrt"], "did you mean: onnxruntime"),
    (["profile", "--device", "nosuch"], "unknown device"),
    (["profile", "--shape", "1,2"], "--shape takes"),
    (["export", "mobilenet_v9"], "unknown model"),
    (["export", "mobilenet_v1", "--to", "onnxx"], "unknown format"),
    (["cost", "mobilenet_v9"], "unknown model"),
    (["cost", "--layer", "M=1"], "--layer is missing"),
    (["info", "mobilenet_v9"], "unknown model"),
    (["models", "zzz*"], "no model matches"),
    (["train", "mobilenet_v9"], "unknown model"),
]


def test_usage_errors_do_not_load_torch():
    code = ("import sys, json\nfrom edgecnn.cli import main\nout = []\n"
            f"for argv in {[a for a, _ in BAD]!r}:\n"
            "    rc = main(argv)\n"
            "    out.append([rc, 'torch' in sys.modules])\n"
            "print(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    import json

    got = json.loads(res.stdout.strip().splitlines()[-1])
    errs = res.stderr.strip().splitlines()
    for (argv, want), (rc, torch_loaded), line in zip(BAD, got, errs):
        assert rc == 2 and line.startswith("error: ") and want in line, (argv, rc, line)
        assert not torch_loaded, f"`edgecnn {' '.join(argv)}` imported torch before reporting the error"
    assert len(errs) == len(BAD)
