"""For a chosen option: the artifact to ship, and the commands that rebuild and re-measure it.

The export command repeats what the option's export record says was done
(checkpoint, input size, batch, parity images, calibration images, dataset,
a prepared TensorRT build); the profile command re-times exactly the
option's runtime, precision, batch, threads and accelerator on its device
(``--force``; per-layer and separable timings off, they are not the choice).

``edgecnn profile --force`` re-exports the artifacts it times into its
``--export-dir`` without a checkpoint (latency does not depend on the
weights), so the profile command points at a scratch folder beside the
export folder: the trained artifact the export wrote is never overwritten.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from edgecnn.select.evidence import PUBLISHED
from edgecnn.select.options import Option

SCRATCH = "remeasure"  # profile's own artifacts: <export dir>/remeasure


def artifact_path(opt: Option) -> tuple[str | None, str]:
    """(the file to ship when it exists on this machine, what it is or why there is none)."""
    if opt.export_format is None:  # PyTorch: the checkpoint itself
        if opt.weights and opt.weights != PUBLISHED and Path(opt.weights).is_file():
            return opt.weights, "the checkpoint (PyTorch runs the nn.Module)"
        return None, "PyTorch runs the model itself; no checkpoint file of these weights on this machine"
    x = opt.parity.record
    path = x.metric("path") if x is not None else None
    if not path:
        return None, "no export record names the artifact: run the export command below"
    if opt.weights == PUBLISHED and x.metric("weights") != "checkpoint":
        return None, (f"the top-1 is published for the pretrained weights, and the export on record ({path}) "
                      f"was made with {x.metric('weights') or 'unrecorded'} weights: export the pretrained "
                      f"checkpoint (--checkpoint) to ship what the figure describes")
    if Path(path).is_file():
        return str(path), f"{opt.export_format} {opt.precision} export ({x.status})"
    return None, f"{path} is not on this machine: run the export command below"


def export_command(opt: Option, profiles_dir: str = "profiles") -> str | None:
    """``edgecnn export ...`` that rebuilds the option's artifact and checks its parity."""
    ef = opt.export_format
    if ef is None:
        return None
    x = opt.parity.record
    args = ["edgecnn", "export", opt.model, "--to", ef, "--precision", opt.precision]
    ckpt = None
    if x is not None and x.metric("weights") == "checkpoint":
        ckpt = x.metric("checkpoint")
    elif opt.weights and opt.weights != PUBLISHED:
        ckpt = opt.weights
    if ckpt:
        args += ["--checkpoint", ckpt]
    if opt.input_shape:
        args += ["--input-size", str(opt.input_shape[-1])]
    batch = x.batch if x is not None else opt.batch
    if batch != 1:
        args += ["--batch", str(batch)]
    if x is not None:
        if x.dataset and x.dataset != "cifar10":
            args += ["--dataset", x.dataset]
        for flag, name in (("--n-images", "n_images"), ("--calibration-images", "calibration_images")):
            value = x.metric(name)
            if isinstance(value, int) and value > 0:
                args += [flag, str(value)]
        if x.metric("prepared_only"):
            args.append("--prepare-only")
    args += ["--out", export_dir(opt), "--profiles", str(profiles_dir)]
    return shlex.join(args)


def export_dir(opt: Option) -> str:
    x = opt.parity.record
    path = x.metric("path") if x is not None else None
    return str(Path(path).parent) if path else "export"


def profile_command(opt: Option, profiles_dir: str = "profiles") -> str:
    """``edgecnn profile ...`` that times the option again on its device."""
    args = ["edgecnn", "profile", "--models", opt.model, "--device", opt.device, "--runtimes", opt.runtime,
            "--precision", opt.precision, "--batch", str(opt.batch)]
    if opt.input_shape:
        args += ["--input-size", str(opt.input_shape[-1])]
    if opt.threads and opt.source == "measured":
        args += ["--threads", str(opt.threads)]
    flags = (opt.variant or "").split("+") if opt.variant and opt.variant != "predicted" else []
    if "cuda" in flags:
        args += ["--accel", "cuda"]
    if "channels_last" in flags:
        args.append("--channels-last")
    if "cuda_graphs" in flags:
        args.append("--cuda-graphs")
    args += ["--no-layers", "--no-separable", "--force", "--no-report", "--out", str(profiles_dir),
             "--export-dir", str(Path(export_dir(opt)) / SCRATCH)]
    return shlex.join(args)


def rebuild(opt: Option, profiles_dir: str = "profiles") -> dict[str, object]:
    """The artifact and the commands, as the output shows them."""
    path, what = artifact_path(opt)
    cmds = [c for c in (export_command(opt, profiles_dir), profile_command(opt, profiles_dir)) if c]
    note = None
    if opt.source == "predicted":
        note = (f"the latency is predicted: the profile command measures it on {opt.device} when it answers "
                f"(add --predict to refresh the prediction while it does not)")
    return {"artifact": path, "artifact_note": what, "commands": cmds, "note": note}
