"""What the GPU reference run does: the full configuration (one H200, at most
9 minutes of wall time) and the smoke configuration (the same code on the
CPU in about a minute). Times in seconds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from edgecnn.runtime.timing import TimingConfig

REPO = Path(__file__).resolve().parents[2]
DEVICE_NAME = "h200-box"  # devices/h200-box.toml; the name every record of the run carries
DEFAULT_MODELS = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50")


@dataclass(frozen=True)
class LatencyConfig:
    """One way of running a model with the torch runner."""

    precision: str = "fp32"  # fp32 | fp16 | bf16 (weights and input converted, no autocast)
    channels_last: bool = False
    cuda_graphs: bool = False
    compile: Optional[str] = None  # a torch.compile mode (default, max-autotune), or eager

    def variant(self, accel: str) -> Optional[str]:
        """The record variant, as ``edgecnn profile`` names it (accel, then the torch flags)."""
        from edgecnn.profile.records import torch_variant

        return torch_variant(accel, self.channels_last, self.cuda_graphs, self.compile)


# eager FP32 / FP16 / BF16 in both memory formats, CUDA graphs of the three, and torch.compile (inductor's
# default mode) of BF16 channels-last, what a desktop-GPU user would compare against (one compilation per
# model: 11.6-17.7 s each on the H200 of 2026-12-04)
GPU_CONFIGS = (
    LatencyConfig("fp32"), LatencyConfig("fp32", True), LatencyConfig("fp16"), LatencyConfig("fp16", True),
    LatencyConfig("bf16"), LatencyConfig("bf16", True), LatencyConfig("fp32", False, True),
    LatencyConfig("fp16", True, True), LatencyConfig("bf16", True, True),
    LatencyConfig("bf16", True, compile="default"),
)
# edgecnn's figure against a plain CUDA-event script (edgecnn/reference/fidelity.py), batch 64
FIDELITY_CONFIGS = (LatencyConfig("fp32"), LatencyConfig("fp16", True), LatencyConfig("bf16", True))


@dataclass(frozen=True)
class TrainJob:
    model: str
    budget_s: Optional[float]  # first jobs: the budget; leftover jobs: a cap on their share (None: no cap)
    compile: Optional[bool] = None  # None: the trainer's default (on for CUDA)
    target_top1: Optional[float] = None  # the bar, shown in the summary
    target_s: Optional[float] = None  # ... reached within this many seconds of training wall time
    recipe: str = "default"
    recipe_set: tuple[str, ...] = ()  # FIELD=VALUE overrides (edgecnn train --recipe-set)
    label: str = ""  # run-folder suffix that sets an ablation's run apart


# the ablation part: resnet18 at a short budget, one recipe change from `default` at a time (docs/train.md)
ABLATIONS = (
    ("default", ()), ("default", ("norm=cifar",)), ("default", ("tta_flip=true",)), ("default", ("ema=0.998",)),
    ("default", ("label_smoothing=0.2",)), ("default", ("wd_on=all", "cutout=8")), ("dawnbench", ()),
)
ABLATION_BUDGET_S = 50.0


def ablation_jobs(model: str = "resnet18", budget_s: float = ABLATION_BUDGET_S) -> tuple[TrainJob, ...]:
    """One short job per ablation, labelled by its change."""
    jobs = []
    for recipe, sets in ABLATIONS:
        label = "-" + "-".join([recipe] + [s.replace("=", "_").replace(".", "p") for s in sets])
        # eager: compiling resnet18 took 20 s of the first run's 145 s (2026-12-04), too much of a 50 s budget
        jobs.append(TrainJob(model, budget_s, False, recipe=recipe, recipe_set=sets, label=label))
    return tuple(jobs)


# what each part of the run does (one part fits one lend's 9 minutes; docs/gpu.md says which ran when)
PHASES = ("machine", "predict", "data", "ceiling", "train", "latency", "separable", "host-cpu", "tensorrt",
          "leftover")
PARTS = {
    "timing": ("machine", "predict", "data", "latency", "separable", "host-cpu", "tensorrt"),
    "ablate": ("machine", "data", "ceiling", "train"),
    "train": ("machine", "data", "train", "leftover"),
    "train-mobilenet_v2": ("machine", "data", "train", "leftover"),
}


@dataclass
class ReferenceConfig:
    smoke: bool
    accel: str  # "cuda" on the GPU machine, "cpu" for the smoke run
    part: str = "timing"  # a key of PARTS, or "all" (the smoke run: every phase)
    phases: tuple[str, ...] = PARTS["timing"]
    device_name: str = DEVICE_NAME
    total_s: float = 540.0  # the whole command, packing included
    pack_reserve_s: float = 10.0  # kept for writing the summary and packing (a few seconds)
    # training (CIFAR-10 from the archive)
    first_jobs: tuple[TrainJob, ...] = ()  # before the measurements
    leftover_jobs: tuple[TrainJob, ...] = ()  # after them, sharing what is left
    leftover_min_s: float = 45.0  # a leftover job with less than this is not started
    subset: Optional[int] = None
    test_subset: Optional[int] = None
    batch_size: Optional[int] = None
    amp: str = "auto"
    channels_last: Optional[bool] = None
    max_checkpoint_params: int = 8_000_000  # fp16 state dicts kept for models under this
    threads: Optional[int] = None  # torch CPU threads for training and the GPU runners (None: torch's / the runner's)
    host_threads: Optional[int] = None  # threads of the host-CPU timing (None: every usable core)
    # prediction and latency (ImageNet-size default models, their cards' input size)
    models: tuple[str, ...] = DEFAULT_MODELS
    input_size: Optional[int] = None  # None: each model card's (224 for the default models)
    predict_gpu: tuple[tuple[str, int], ...] = (("fp32", 1), ("fp16", 1), ("bf16", 1), ("fp32", 64),
                                                ("fp16", 64), ("bf16", 64))
    predict_cpu: tuple[tuple[str, int], ...] = (("fp32", 1),)
    # the records whose other devices make the latency model's prior (this run's device is left out)
    prior_records: tuple[Path, ...] = (REPO / "docs" / "records", REPO / "profiles", REPO / "benchmarks" / "data")
    gpu_configs: tuple[LatencyConfig, ...] = GPU_CONFIGS
    gpu_batches: tuple[int, ...] = (1, 64)
    layer_configs: tuple[tuple[LatencyConfig, int], ...] = ((LatencyConfig("fp32"), 1), (LatencyConfig("fp32"), 64),
                                                            (LatencyConfig("bf16", True), 64))
    layer_runs: int = 10
    cpu_batches: tuple[int, ...] = (1,)
    # each configuration: at least 0.2 s of warm-up and 1 s of timing (trtexec: 0.2 s and 3 s)
    timing: TimingConfig = field(default_factory=lambda: TimingConfig(
        warmup=10, warmup_s=0.2, runs=20, min_time_s=1.0, max_time_s=3.0))
    copy_timing: TimingConfig = field(default_factory=lambda: TimingConfig(
        warmup=3, warmup_s=0.05, runs=20, min_time_s=0.1, max_time_s=1.0))
    fidelity_configs: tuple[LatencyConfig, ...] = FIDELITY_CONFIGS
    fidelity_batch: Optional[int] = 64
    fidelity_block_s: float = 0.2  # per side and round; 5 to 9 rounds (more while the verdict is "cannot tell")
    fidelity_rounds: tuple[int, int] = (5, 9)
    compile_batches: tuple[int, ...] = (64,)  # torch.compile is timed at these batches only (a compile each)
    compile_backend: str = "inductor"  # the smoke run traces with dynamo's "eager" backend (no code generation)
    # TensorRT, where it imports: (precision, batch) per model, the most asked-for first
    tensorrt_runs: tuple[tuple[str, int], ...] = (("fp16", 64), ("int8", 64), ("fp16", 1))
    tensorrt_need_s: float = 60.0  # an engine is not started with less left (export, build, timing)
    airbench_variants: tuple[str, ...] = ("airbench94", "airbench95")
    airbench_seeds: tuple[int, ...] = (0, 1, 2)
    ceiling_budget_s: float = 120.0  # the ceiling phase stops starting runs after this
    # the separable sweep: M = N, Df = 14, stride 1, as in docs/profile.md
    separable_n: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    separable_dk: tuple[int, ...] = (3, 5)
    separable_df: int = 14
    # (precision, batch): launch-bound batch 1, and batch 64 where the standard conv is compute-bound
    separable_runs: tuple[tuple[str, int], ...] = (("fp32", 1), ("bf16", 64))
    separable_timing: TimingConfig = field(default_factory=lambda: TimingConfig(
        warmup=5, warmup_s=0.05, runs=20, min_time_s=0.3, max_time_s=1.0))

    def scaled(self, factor: float) -> "ReferenceConfig":
        """Every training budget and the total multiplied by ``factor`` (tests)."""
        def job(j: TrainJob) -> TrainJob:
            return dataclasses.replace(j, budget_s=j.budget_s * factor if j.budget_s else None)

        return dataclasses.replace(self, total_s=self.total_s * factor,
                                   leftover_min_s=self.leftover_min_s * factor,
                                   first_jobs=tuple(job(j) for j in self.first_jobs),
                                   leftover_jobs=tuple(job(j) for j in self.leftover_jobs))


def full_config(part: str = "timing") -> ReferenceConfig:
    """One part of the H200 run, each at most 9 minutes (540 s of wall time):

    - ``timing`` (the GPU-timing issue): the machine's facts, predictions, the
      default models timed on the GPU (device time, copies and end to end,
      eager / channels-last / CUDA graphs / torch.compile, batch 1 and 64), the
      fidelity check against a plain script at batch 64, the separable sweep on
      device time, the host CPU, TensorRT engines where TensorRT imports (else
      its probe record). Planned: predict 6, data 10, latency ~300, separable
      ~25, host CPU ~8, TensorRT what is left;
    - ``ablate``: airbench94/95 on the archive (its ceiling, at most 120 s),
      then resnet18 for 50 s per recipe change from ``default``, one change at
      a time (``ABLATIONS``; docs/train.md's plan), to choose the recipe of
      the ``train`` part;
    - ``train``: resnet18 against the 3-minute bar (170 s budget, the recipe
      given with ``--recipe`` / ``--recipe-set``), then mobilenet_v3_small,
      mobilenet_v1 and efficientnet_b0 with what is left;
    - ``train-mobilenet_v2``: mobilenet_v2 against the 6-minute bar (345 s),
      then efficientnet_b0 with what is left.

    Training comes before measurements in a part because its budgets are
    enforced; a phase without time left is a record saying so."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
    first: tuple[TrainJob, ...] = ()
    leftover: tuple[TrainJob, ...] = ()
    if part == "ablate":
        first = ablation_jobs()
    elif part == "train":
        first = (TrainJob("resnet18", 170.0, None, 95.0, 180.0),)
        leftover = (TrainJob("mobilenet_v3_small", None, False), TrainJob("mobilenet_v1", None, False),
                    TrainJob("efficientnet_b0", None, False))
    elif part == "train-mobilenet_v2":
        first = (TrainJob("mobilenet_v2", 345.0, None, 94.0, 360.0),)
        leftover = (TrainJob("efficientnet_b0", None, False),)
    return ReferenceConfig(smoke=False, accel="cuda", part=part, phases=PARTS[part], first_jobs=first,
                           leftover_jobs=leftover)


def smoke_config() -> ReferenceConfig:
    """The same phases on the CPU in about a minute: tiny subsets, one model
    per phase, batch 1 and 2, two separable shapes, a few timed runs."""
    tiny = TimingConfig(warmup=1, warmup_s=0.0, runs=3, min_time_s=0.0, max_time_s=0.5)
    # bf16 autocast is left out of the smoke training: on CPUs without AVX512-BF16 a bf16 step is
    # 20x slower than fp32 (the trainer's autocast call still runs, disabled)
    return ReferenceConfig(
        smoke=True, accel="cpu", part="all", phases=PHASES, total_s=240.0, pack_reserve_s=10.0,
        first_jobs=(TrainJob("lenet5", 8.0, False, 0.0, 60.0),),  # a bar any run meets: the check runs
        leftover_jobs=(TrainJob("mobilenet_v1_025", 8.0, False),), leftover_min_s=4.0,
        subset=32, test_subset=32, batch_size=32, amp="off", channels_last=True, threads=1, host_threads=1,
        models=("mobilenet_v3_small",), input_size=64, predict_gpu=(("fp32", 1), ("bf16", 2)),
        predict_cpu=(("fp32", 1),), gpu_batches=(1, 2),
        gpu_configs=GPU_CONFIGS[:3] + GPU_CONFIGS[4:7] + (LatencyConfig("fp32", compile="default"),),
        layer_configs=((LatencyConfig("fp32"), 1),), layer_runs=2, cpu_batches=(1,),
        timing=tiny, copy_timing=tiny, separable_n=(32, 64), separable_dk=(3,), separable_runs=(("fp32", 1),),
        separable_timing=tiny, fidelity_configs=(LatencyConfig("fp32"),), fidelity_batch=2, fidelity_block_s=0.01,
        compile_batches=(2,), compile_backend="eager", airbench_seeds=(0,), ceiling_budget_s=5.0,
    )
