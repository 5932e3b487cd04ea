"""The record schema: every metric field of every record kind, declared once.

Writers and readers share these declarations. ``RecordStore.append`` (every
writer goes through it) calls ``validate`` and refuses a record with an
undeclared field, a missing required field, a value of the wrong type or out
of its range: that is a programming error the tests catch, never a silently
skipped row. Readers (the report, ``select``) read figures with
``Record.metric(name)``, which refuses a name that is not declared for the
record's kind, so a reader cannot ask for a field no writer writes.

Conventions: the unit is in the field name where it has one (``_ms``,
``_bytes``, ``_mb``, ``_s``, ``gmacs_per_s``); top-1/top-5 and agreement
rates are **percent, 0-100, everywhere**; MACs count one multiply-accumulate.

Versions: rows carry ``schema_version``. ``upgrade`` turns a row of an older
version into the current one (renamed fields, fractions to percent), so old
record files keep loading.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from edgecnn.schema_upgrade import SCHEMA_VERSION, upgrade  # noqa: F401  (the version and older rows' upgrade)


class RecordSchemaError(ValueError):
    """A record does not match its kind's declaration (a bug in the writer)."""


from edgecnn.schema_fields import (ANY, BOOL, DICT, INT, LIST, NUM, STR, Field, Rule, declare_fields, count,  # noqa: F401
                                   ms, ok, ok_measured, ok_measured_gpu, ok_predicted, parity_ran, pct, type_ok)


# shared groups -------------------------------------------------------------
LATENCY_STATS = (
    ms("latency_ms_p50", "median of the timed runs: the headline figure"),
    ms("latency_ms_p10"), ms("latency_ms_p90"), ms("latency_ms_p99"),
    ms("latency_ms_mean", "mean after dropping outliers beyond Q3 + 3 IQR (benchmark_model: its mean)"),
    ms("latency_ms_std"), ms("latency_ms_min"), ms("latency_ms_max"),
    count("runs", "timed calls"), count("warmup_runs"), count("outliers", "samples beyond Q3 + 3 IQR"),
    Field("spread", "ratio", NUM, "(p90 - p10) / median", lo=0.0),
    Field("drift", "ratio", NUM, "relative change between the medians of the first and last third", lo=0.0),
    Field("noisy", "", BOOL, "spread > 0.25 or drift > 0.10"),
    Field("timing_s", "s", NUM, "wall time of the timed part", lo=0.0),
)

MEMORY = (
    Field("memory_peak_mb", "MB", NUM, "peak resident memory of the process that ran the model (VmHWM; "
          "benchmark_model: its periodic peak)", lo=0.0),
    Field("memory_added_mb", "MB", NUM, "resident memory added by loading and running the model: peak minus the "
          "resident memory before the artifact was loaded (benchmark_model: its overall footprint delta)", lo=0.0),
    Field("memory_load_mb", "MB", NUM, "resident memory added by loading the artifact alone", lo=0.0),
    Field("memory_method", "", STR, "how the memory figures were taken"),
    Field("artifact_bytes", "bytes", INT, "size on disk of what the runtime loaded", lo=0),
)

DEVICE_PEAKS = Field("device_peaks", "", DICT, "the measuring device's roof when this was measured: compute unit, "
                     "peak GMAC/s per precision, memory bandwidth GB/s, and the kind of each figure")

PREDICTION_METHOD = Field("prediction_method", "", STR, "kernels: the device's kernel table (predict/kernels.py) | "
                          "classes: the op-class model")
PREDICTION = (
    Field("predicted", "", BOOL, "always true on predicted records"),
    Field("prediction_reason", "", STR, "why a prediction was written", required=ok_predicted),
    Field("peak_gmacs_per_s", "GMAC/s", NUM, "compute peak of the unit used", lo=0.0),
    Field("peak_precision_used", "", STR, "the precision whose peak was used"),
    Field("memory_bandwidth_gb_per_s", "GB/s", NUM, lo=0.0),
    Field("peak_kind", "", DICT, "figure -> vendor | derived | estimated | measured"),
    Field("compute_unit", "", STR, "cpu | gpu | npu: the unit the runtime runs on", required=ok_predicted),
    Field("compute_bound_share", "ratio", NUM, "share of the predicted time in compute-bound layers", lo=0.0, hi=1.0),
    Field("calibration", "", DICT, "records before the latency model: the per-op-class fit used, and the device "
          "it was fitted on"),
    Field("calibration_device", "", STR, "the device whose own measurements refit the parameters (None: a prior "
          "from other devices only)"),
    Field("latency_params", "", DICT, "the op-class model's parameters (edgecnn/predict/latency_model.py), or the "
          "kernel table's models, kernels, ratio and timed ops (edgecnn/predict/kernels.py)"), PREDICTION_METHOD,
    Field("params_source", "", STR, "where the parameters came from: this device's calibration record, its own "
          "measurements, or the prior of other devices"),
    count("calibrated_on", "measurements of this device behind the parameters (0: prior only)"),
    Field("prior_devices", "", LIST, "the other devices (device:configuration) whose fits made the prior"),
    Field("config", "", STR, "the configuration predicted: threads=N on a CPU, the CUDA variant on a GPU"),
    Field("error_band", "", DICT, "expected relative error from the latest validation of this kind "
          "(benchmarks/bench_predict.py, leave-one-device-out): share within 10 % / 25 %, median and p90 "
          "|error|, the devices it covered, calibrated or not"),
)

LAYERS = Field("layers", "", LIST, "per-layer rows (see ROW_FIELDS)")

# per-layer rows (cost rows, joined timed rows, predicted rows, benchmark_model op rows)
ROW_FIELDS = declare_fields(
    Field("name", "", STR, "PyTorch module name (or the runtime's node name when it matches none)"),
    Field("type", "", STR, "module class or runtime op type"),
    Field("op", "", STR), Field("category", "", STR), Field("op_class", "", STR),
    Field("input_shape", "", LIST), Field("output_shape", "", LIST), Field("kernel", "", LIST),
    Field("stride", "", LIST), Field("groups", "count", INT), Field("in_channels", "count", INT),
    Field("out_channels", "count", INT),
    Field("macs", "MACs", INT, lo=0), Field("params", "count", INT, lo=0),
    Field("bytes_read", "bytes", INT, lo=0), Field("bytes_written", "bytes", INT, lo=0),
    Field("bytes", "bytes", INT, lo=0), Field("arithmetic_intensity", "MACs/byte", NUM, lo=0.0),
    ms("time_ms", "measured time of this layer"), Field("runtime_op", "", STR), Field("fused_into", "", STR),
    Field("matched", "", BOOL, "the timed node was joined to a cost row"),
    Field("achieved_gmacs_per_s", "GMAC/s", NUM, lo=0.0), Field("node", "", STR), ms("call_overhead_ms"),
    ms("compute_ms", "roofline compute time"), ms("memory_ms", "roofline memory time"),
    Field("bound", "", STR), Field("fused", "", BOOL), ms("predicted_ms"),
    Field("node_index", "count", INT), ms("first_ms"), Field("percent", "%", NUM, lo=0.0, hi=100.0),
    count("times_called"), Field("mem_kb", "KB", NUM, lo=0.0), Field("share", "ratio", NUM, lo=0.0, hi=1.0),
    # a layer timed alone (LiteRT, edgecnn/profile/isolated.py): time_ms = call_ms - input_set_ms - output_get_ms
    ms("call_ms", "the layer's whole call timed alone: set the input, invoke, get the output"),
    ms("input_set_ms", "the layer's input set, timed alone on it"), ms("output_get_ms", "its output get, timed alone"),
    Field("below_copies", "", BOOL, "the call was faster than its copies: no time_ms (noise, or a layer too small "
          "to tell from its copies)"),
)

PARITY = (
    count("n_images", "test images the artifact was checked on"),
    Field("max_abs_diff", "logit", NUM, "max |artifact - PyTorch| over all logits", lo=0.0),
    Field("max_abs_diff_bound", "logit", NUM, "fp32 bound applied: 1e-4 x max(1, reference_logit_absmax)", lo=0.0),
    Field("mean_abs_diff", "logit", NUM, lo=0.0),
    Field("cosine", "ratio", NUM, "cosine similarity of the logits", lo=-1.0, hi=1.0),
    pct("top1_agreement", "images where artifact and PyTorch pick the same class"),
    Field("reference_logit_absmax", "logit", NUM, lo=0.0),
    pct("top1", "top-1 of the artifact against the labels"), pct("top1_reference", "PyTorch's top-1, same images"),
    Field("top1_drop", "points", NUM, "top1_reference - top1", lo=-100.0, hi=100.0),
    Field("judged_by", "", LIST, "the criteria the verdict used"),
    Field("parity_s", "s", NUM, lo=0.0), Field("parity_precision", "", STR, "tolerances applied"),
    Field("parity_runtime", "", STR, "the runtime that produced the parity figures", required=parity_ran),
)

# INT8 exports (edgecnn/export/quantize.py, sensitivity.py, speedup.py)
QUANT = (
    Field("quant_method", "", STR, "the quantisation method (QUANT_METHODS name; TFLite: tflite-<algorithm>)"),
    Field("quant_tool", "", STR, "onnxruntime | nncf | ai-edge-quantizer"), Field("quant_config", "", DICT),
    Field("float_nodes", "", LIST, "layers (graph node names) kept in float: mixed precision"),
    count("cle_pairs", "conv pairs equalised"), count("bn_folded"), count("cle_iterations"),
    Field("max_drop", "points", NUM, "top-1 budget of the mixed-precision search", lo=0.0, hi=100.0),
    count("search_images", "training images the search measured"), pct("search_top1_reference"),
    pct("search_top1"), Field("search_drop", "points", NUM, "top-1 drop on the search images", lo=-100.0, hi=100.0),
    count("sensitivity_images"), Field("sensitivity_ranked_with", "", STR, "method of the single-layer models"),
    Field("mixed_steps", "", LIST, "search steps: float_layers, top1, drop"), Field("within_budget", "", BOOL),
    count("quantisable_layers", "layers the mixed-precision search ranked"),
    Field("max_drop_met", "", BOOL, "--max-drop: this export lost at most max_drop points with at most a quarter "
                                    "of its layers in float (edgecnn/export/max_drop.py)"),
    Field("max_drop_measured_on", "", STR, "the images the drop was measured on"),
    Field("max_drop_float_share", "", NUM, "layers kept in float / quantisable layers", lo=0.0, hi=1.0),
    Field("max_drop_missed", "", STR, "why --max-drop was not met"),
    pct("max_drop_reference_top1", "the FP32 model's top-1 a QAT step is judged against (same test images)"),
    Field("max_drop_attempts", "", LIST, "the paths tried before this one: method, drop, measured_on, "
                                         "float_nodes, met, seconds"),
    Field("qat_seconds", "s", NUM, "wall time of the QAT fine-tune a --max-drop chain ran", lo=0.0),
    Field("speedup", "ratio", NUM, "FP32 twin p50 / this artifact's p50, same runtime, isolated workers", lo=0.0),
    ms("latency_ms_p50", "this artifact, batch 1"), ms("latency_ms_p90"), ms("fp32_latency_ms_p50"),
    ms("fp32_latency_ms_p90"), count("speedup_runs"), Field("speedup_noisy", "", BOOL), count("speedup_threads"),
    Field("speedup_isolation", "", STR), Field("fp32_file_bytes", "bytes", INT, "the FP32 twin's size", lo=0),
    Field("speedup_macs", "MACs", INT, "conv + linear MACs of one timed call (batch x one image), counted", lo=0),
    Field("int8_pays", "", BOOL, "INT8 ran faster than its FP32 twin by more than 5 % (edgecnn/export/int8_pays.py)"),
    Field("int8_verdict", "", STR, "where INT8 stands against FP32 on this device, in words"),
    Field("method", "", STR, "how the INT8 model was made: ptq (post-training), mixed (post-training, some "
          "layers in float), qat (quantisation-aware fine-tune, its trained scales)"),
    Field("qat_quantizer", "", STR, "the PT2E quantizer of a QAT model"), Field("qat_scheme", "", DICT),
    count("qat_epochs", "epochs of the QAT fine-tune"), count("qat_steps", "optimizer steps of the fine-tune"),
    count("qat_images", "training images the fine-tune saw (steps x batch)"),
    Field("qat_source_checkpoint", "", STR, "the float checkpoint the fine-tune started from"),
    pct("qat_source_top1", "that checkpoint's recorded test top-1"),
)

# on a record of any kind: where a scripted run (scripts/gpu_reference.py) failed, and where the model came from
COMMON = (Field("phase", "", STR, "the phase of a scripted run this record belongs to"),
          Field("traceback", "", STR, "the end of the traceback of a failure"),
          Field("model_source", "", STR, "where the model came from: edgecnn zoo, timm, Python factory, ONNX file, "
                "TFLite file, TorchScript file, PyTorch .pt2 file, nn.Module"),
          Field("model_spec", "", STR, "what the user gave for a model outside the zoo (file, factory, timm name)"))

# pretrained weights and the preprocessing they expect (edgecnn/models/weights.py, edgecnn/data/preprocess.py)
WEIGHTS = (
    Field("weights_source", "", STR, "where the weights come from: torchvision <Enum>.<name>, timm <arch>.<tag>, "
                                     "file <path>"),
    Field("preprocessing", "", DICT, "resize_size and crop_size (px), interpolation, mean and std (RGB on [0, 1]), "
                                     "and the source of these figures"),
)
# a checkpoint exported or evaluated at another input size than it was trained at (--force-input-size)
FORCED_SIZE = (
    Field("input_size_forced", "", BOOL, "the checkpoint ran at another input side than it was trained at, "
          "because --force-input-size asked for it (input_shape is the side it ran at)"),
    Field("trained_input_size", "px", INT, "the input side the checkpoint was trained at", lo=1),
)

# GPU latency: device time apart from the copies (edgecnn/runtime/device_timing.py)
LATENCY_MEASURES = ("device_compute", "end_to_end", "host_call")
DEVICE_TIME = (
    Field("latency_measure", "", STR, "what latency_ms_p50 times: device_compute (the model's device work, input "
          "already on the device, CUDA events around it), end_to_end (host array in, host array out, copies "
          "included), host_call (a CPU runtime's call, host clock)", required=ok_measured_gpu),
    Field("device_timer", "", STR, "how the device steps were timed: cuda_events, or host_clock (CPU smoke runs)"),
    Field("host_memory", "", STR, "the host buffers of the copies: pinned, or pageable"),
    Field("h2d_bytes", "bytes", INT, "bytes copied host to device per inference", lo=0),
    Field("d2h_bytes", "bytes", INT, "bytes copied device to host per inference", lo=0),
    ms("h2d_ms_p50", "host-to-device copy of the input from a pinned buffer, median"), ms("h2d_ms_p90"),
    ms("d2h_ms_p50", "device-to-host copy of the output to a pinned buffer, median"), ms("d2h_ms_p90"),
    ms("end_to_end_ms_p50", "host numpy array in, host array out (pageable), device synchronised, median"),
    ms("end_to_end_ms_p90"), count("h2d_runs"), count("d2h_runs"), count("end_to_end_runs"),
    Field("h2d_gb_per_s", "GB/s", NUM, "h2d_bytes / h2d median", lo=0.0),
    Field("d2h_gb_per_s", "GB/s", NUM, "d2h_bytes / d2h median", lo=0.0),
    Field("copy_timing_config", "", DICT, "the timing of the copies and end-to-end series"),
)

# a GPU figure checked against a plain CUDA-event script (edgecnn/reference/fidelity.py)
FIDELITY = (
    ms("plain_ms_p50", "the plain script's median, same model object, dtype, layout and batch"),
    Field("fidelity_ratio", "ratio", NUM, "edgecnn median / plain-script median, rounds alternating", lo=0.0),
    Field("fidelity_interval", "ratio", LIST, "95 % bootstrap interval of the ratio over the rounds"),
    count("fidelity_rounds"), Field("fidelity_verdict", "", STR, "within 10 %, outside, or cannot tell"),
    Field("fidelity_method", "", STR, "how the two were alternated"),
)

_LATENCY_ANY = Field("latency_statistic", "", STR, "which statistic the headline is: p50, or mean where the tool "
                     "reports no median (benchmark_model)")


KINDS: dict[str, dict[str, Field]] = {
    "cost": declare_fields(
        Field("macs", "MACs", INT, "conv + linear MACs of one inference", ok, lo=0),
        Field("other_macs", "MACs", INT, "element-wise, pooling, BN ops in MAC-equivalents", lo=0),
        Field("total_macs", "MACs", INT, lo=0),
        Field("params", "count", INT, required=ok, lo=0),
        Field("bytes", "bytes", INT, lo=0), Field("bytes_read", "bytes", INT, lo=0),
        Field("bytes_written", "bytes", INT, lo=0), Field("arithmetic_intensity", "MACs/byte", NUM, lo=0.0),
        Field("unsupported_ops", "", LIST, "ops without a cost formula (never counted as zero)"), LAYERS,
    ),
    "latency": declare_fields(
        *LATENCY_STATS, *MEMORY, *PREDICTION, DEVICE_PEAKS, LAYERS, _LATENCY_ANY,
        count("threads", "CPU threads of the runtime"), Field("macs", "MACs", INT, lo=0),
        Field("achieved_gmacs_per_s", "GMAC/s", NUM, "MACs x batch / p50", lo=0.0),
        Field("interleaved_with", "", LIST, "runtimes whose rounds alternated with this one"),
        Field("isolation", "", STR, "how other runtimes were kept from disturbing this timing"),
        Field("runner", "", DICT, "the runner's settings (threads, provider, precision that ran, ...)"),
        Field("timing_config", "", DICT), Field("timing_method", "", STR, "edgecnn (default), benchmark_model, "
                                                                          "trtexec"),
        Field("timing_note", "", STR), ms("load_ms", "loading the artifact"), Field("input_dtype", "", STR),
        Field("runtime_version", "", STR), Field("artifact", "", STR, "artifact file name"),
        ms("warmup_ms_mean"), ms("init_ms"), ms("first_inference_ms"), Field("memory_init_mb", "MB", NUM, lo=0.0),
        Field("delegates", "", LIST), Field("gpu_compute_ms_p50", "ms", NUM, lo=0.0),
        *(ms(f"gpu_compute_ms_{s}") for s in ("min", "max", "mean", "p90", "p99")),
        Field("throughput_qps", "1/s", NUM, lo=0.0),
        ms("roofline_ms", "a prediction's pure roofline (no calibration)"),
        Field("predicted_for", "", STR, "the device description a prediction is for"),
        Field("peak_sources", "", LIST, "sources of the peak figures a prediction used"),
        Field("includes_host_copies", "", BOOL, "the timed call includes copying input and output between host "
              "and device"),
        *DEVICE_TIME, *FIDELITY,
        Field("compile_mode", "", STR, "torch.compile mode of a compiled configuration (default, max-autotune)"),
        Field("compile_s", "s", NUM, "torch.compile: the first call, which compiles (and autotunes)", lo=0.0),
        Field("probe", "", DICT, "what a probe looked for and found (TensorRT: the module, trtexec, versions)"),
    ),
    "layer_latency": declare_fields(
        LAYERS, DEVICE_PEAKS, Field("summary", "", DICT, "time per op class"), Field("macs", "MACs", INT, lo=0),
        count("layer_runs"), count("threads"), Field("method", "", STR, "how per-layer times were taken"),
        Field("op_types", "", LIST, "benchmark_model's summary by node type"), Field("timing_method", "", STR),
    ),
    "separable": declare_fields(
        count("m", "input channels", ok), count("n", "output channels", ok), count("dk", "kernel side", ok),
        count("df", "output side"), count("df_in", "input side"), count("stride"),
        Field("shape", "", STR), Field("depthwise_layer", "", STR), Field("pointwise_layer", "", STR),
        Field("analytic_ratio", "ratio", NUM, "1/N + 1/Dk^2", ok, lo=0.0),
        Field("counted_ratio", "ratio", NUM, "counted MACs separable / standard", lo=0.0),
        Field("measured_ratio", "ratio", NUM, "latency separable / standard (p50)", ok_measured, lo=0.0),
        ms("separable_ms_p50", "depthwise + pointwise pair, median", ok_measured),
        ms("standard_ms_p50", "the standard conv it replaces, median", ok_measured),
        ms("separable_ms_p90"), ms("standard_ms_p90"), count("runs"), Field("noisy", "", BOOL), count("threads"),
        count("blocks", "blocks a collapsed unsupported record stands for"),
        *(Field(f"macs_{w}", "MACs", INT, lo=0) for w in ("separable", "standard", "depthwise", "pointwise")),
        count("depth_multiplier"), Field("isolation", "", STR),
        Field("accel", "", STR, "where the pair ran: cpu | cuda"),
        Field("latency_measure", "", STR, "what the two medians time: device_compute (CUDA events, input on the "
              "device), end_to_end (copies included), host_call (CPU)"),
        Field("separable_gmacs_per_s", "GMAC/s", NUM, "counted MACs x batch of the pair / its median", lo=0.0),
        Field("standard_gmacs_per_s", "GMAC/s", NUM, "counted MACs x batch of the standard conv / its median",
              lo=0.0),
        Field("separable_bytes", "bytes", INT, "activation and weight bytes the pair moves (one pass)", lo=0),
        Field("standard_bytes", "bytes", INT, "activation and weight bytes the standard conv moves", lo=0),
    ),
    "export": declare_fields(
        *PARITY, *QUANT,
        Field("weights", "", STR, "checkpoint | random | given | a weight name", ok),
        Field("checkpoint", "", STR), count("num_classes"), count("bn_recalibrated_layers"), count("threads"),
        Field("export_s", "s", NUM, lo=0.0), Field("file_bytes", "bytes", INT, "artifact size", lo=0),
        Field("path", "", STR), Field("opset", "", INT), count("nodes"), Field("exporter", "", STR),
        Field("simplified", "", BOOL), Field("trtexec", "", STR, "the command that builds the engine"),
        Field("prepared_only", "", BOOL), Field("parity_emulation", "", STR, "how the parity runtime stood in for the target"), count("transpose_ops"), count("layout_transpose_ops"), count("model_transpose_ops"), count("conv_ops"), count("ops"),
        Field("op_counts", "", DICT), count("calibration_images"), count("qdq_nodes"),
        Field("activation_type", "", STR), Field("inference_precision", "", STR, "the precision the runtime "
                                                                                  "computed in: f32, f16, bf16"),
        Field("inference_precision_hint", "", STR, "OpenVINO's INFERENCE_PRECISION_HINT as compiled"),
        count("ov_ops", "OpenVINO ops"), count("fake_quantize_ops"), count("onnx_nodes"),
        Field("bin_bytes", "bytes", INT, "weights file beside the graph (OpenVINO .bin, NCNN .bin)", lo=0),
        count("delegate_calls", "ExecuTorch XNNPACK delegate calls"), count("portable_ops"),
        Field("portable_op_counts", "", DICT, "ExecuTorch portable kernels by name"),
        count("ncnn_layers"), Field("ncnn_layer_counts", "", DICT, "NCNN layers by type"),
        Field("weights_dtype", "", STR), Field("mnn_precision", "", STR),
        Field("mnn_winograd_memory_level", "", INT, "MNN session hint: Winograd unit sizes the CPU backend may "
                                                    "pick from (fp32 exports ask for 2)", lo=0),
        Field("feature_quantize_method", "", STR), Field("weight_quantize_method", "", STR),
        *WEIGHTS, Field("calibration_source", "", STR, "the images INT8 calibration used (folder or dataset split, "
                                                       "count)"), *FORCED_SIZE,
    ),
    "accuracy": declare_fields(
        pct("top1", "top-1 accuracy", ok), pct("top5"), Field("loss", "nats", NUM, lo=0.0),
        count("n_images"), Field("per_class_top1", "%", LIST, "percent per class, dataset order"),
        Field("confusion", "count", LIST, "rows: true class, columns: predicted"),
        Field("checkpoint", "", STR), Field("target", "", STR, "what was evaluated"), Field("eval_s", "s", NUM, lo=0.0),
        Field("reference", "", STR, "citation of a published figure", required=lambda r: r.source == "published"),
        Field("split", "", STR), count("num_classes"),
        Field("weights", "", STR, "checkpoint | given | the pretrained weights' name (IMAGENET1K_V2, a timm tag, "
                                  "a file name)"),
        Field("weights_dtype", "", STR, "the dtype of the evaluated weights (fp16 checkpoints)"), *WEIGHTS,
        *FORCED_SIZE,
        Field("normalization_check", "", DICT, "when the normalisation used differs from the weights' own: "
              "n_images, top1_used and top1_own (%), drop_points = top1_own - top1_used, the two mean/std"),
        count("classes_present", "classes with at least one evaluated image (ImageNet folders hold some of 1000)"),
        Field("data_source", "", STR, "the folder or archive evaluated"),
        Field("data_layout", "", STR, "wnid-folders | class-folders | labels-file | arrays"),
        # how the trainer's evaluation ran (edgecnn/train/run_records.py)
        Field("ema_decay", "", NUM, "the weights evaluated were a moving average with this decay per step "
              "(0: the trained weights)", lo=0.0, hi=1.0),
        Field("tta_flip", "", BOOL, "logits averaged over each image and its horizontal mirror"),
        Field("qat", "", DICT, "the evaluated model was a QAT graph with fake quantisation (train --qat): quantizer, "
              "scheme, source checkpoint, epochs and images"),
        # the data set's ceiling measured with airbench (edgecnn/reference/ceiling.py)
        Field("seed", "", INT, "torch.manual_seed before the training run"),
        Field("train_s", "s", NUM, "training time of the run, data loading excluded", lo=0.0),
        Field("warmup_s", "s", NUM, "the package's one warm-up call before the first run", lo=0.0),
        Field("tta_level", "", INT, "airbench's test-time augmentation: 0 none, 1 mirror, 2 mirror + translate",
              lo=0, hi=2),
        pct("measured_top1_mean", "mean top-1 of the runs measured here (a published record's companion figure)"),
        Field("measured_top1_std", "points", NUM, "sample standard deviation of those runs' top-1", lo=0.0),
        count("measured_runs", "runs behind measured_top1_mean"),
        count("skipped_runs", "runs not started because the time left was too short"),
        Field("handicap_points", "points", NUM, "published top-1 - measured_top1_mean: how far this data set "
              "(here the JPEG re-encode) falls short of the published figure", lo=-100.0, hi=100.0),
        Field("published_train_s", "s", NUM, "the published training time (its own GPU, in reference)", lo=0.0),
    ),
    "train": declare_fields(
        Field("run_dir", "", STR), Field("run_id", "", STR), count("epochs", required=ok),
        pct("test_top1", required=ok), pct("test_top5"), Field("test_loss", "nats", NUM, lo=0.0),
        pct("best_test_top1"), Field("train_loss", "nats", NUM, lo=0.0), pct("train_top1"),
        Field("wall_s", "s", NUM, lo=0.0), Field("train_s_total", "s", NUM, lo=0.0),
        Field("images_per_s", "images/s", NUM, lo=0.0), Field("seed", "", INT), Field("recipe", "", STR),
        count("world_size"), Field("last", "", STR), Field("best", "", STR), count("rank"),
        Field("param_checksum", "", STR), Field("recipe_settings", "", DICT), count("subset"),
        Field("fp16_path", "", STR, "the half-precision weights --save-fp16 wrote"),
        Field("ranks_in_sync", "", BOOL, "DDP: every rank ended with the same weights"),
        count("test_subset"), Field("qat", "", DICT, "a quantisation-aware fine-tune (--qat): quantizer, scheme, "
                                    "source checkpoint and top-1, epochs, steps and images fine-tuned"),
        Field("time_budget_s", "s", NUM, "--time-budget", lo=0.0),
        Field("budget_plan", "", DICT, "the schedule fitted to the budget: epochs, steps, measured images/s, "
                                       "re-plans"),
        Field("budget_wall_s", "s", NUM, lo=0.0), Field("within_budget", "", BOOL), count("budget_replans"),
    ),
    "prediction_error": declare_fields(
        Field("method", "", STR, "how the predictions were validated", ok),
        count("models", "models predicted", ok), Field("configs", "", LIST, "configurations fitted on / predicted"),
        pct("within_10_pct", "share of predictions within +-10 % of the measurement", ok),
        pct("within_25_pct", "share within +-25 %", ok),
        Field("median_abs_error", "ratio", NUM, "median |predicted - measured| / measured", ok, lo=0.0),
        Field("p90_abs_error", "ratio", NUM, lo=0.0),
        Field("spearman", "ratio", NUM, "rank correlation of predicted and measured latency", lo=-1.0, hi=1.0),
        Field("compute_unit", "", STR, "the unit kind the validation covers", ok),
        Field("rows", "", LIST, "one row per prediction: model, config, measured_ms, predicted_ms, error"),
        Field("calibration_kind", "", STR, "uncalibrated | calibrated | calibrated-layers (calibrate.band_kind)"),
        Field("devices", "", LIST, "the held-out devices the validation covered (device unit configuration)"),
        Field("calibration_measurements", "", LIST, "the numbers of the held-out device's measurements used"),
    ),
    "calibration": declare_fields(
        Field("params", "", DICT, "the latency model's parameters fitted for this device, unit, runtime", ok),
        Field("compute_unit", "", STR, "cpu | gpu", ok), Field("fitted_on", "", LIST, "the models measured"),
        Field("prior_devices", "", LIST, "the devices whose fits made the prior"),
        Field("fit_error", "ratio", NUM, "median |relative error| on the fitted models", lo=0.0),
        count("measurements", "models measured on this device for the fit"),
        Field("peak_gmacs_per_s", "GMAC/s", NUM, "the roof the features were computed on", lo=0.0),
        Field("memory_bandwidth_gb_per_s", "GB/s", NUM, lo=0.0), Field("method", "", STR),
        Field("rows", "", LIST, "per model: measured_ms, fitted_ms"),
        PREDICTION_METHOD, Field("layer_models", "", LIST, "the measured models with per-layer times"),
        Field("leave_one_out_error", "", DICT, "per method, its median |error| on layer_models, each from the others"),
    ),
    "train_epoch": declare_fields(
        count("epoch", required=ok), Field("train_loss", "nats", NUM, lo=0.0), pct("train_top1"),
        Field("test_loss", "nats", NUM, lo=0.0), pct("test_top1"), pct("test_top5"), Field("lr", "", NUM, lo=0.0),
        Field("epoch_s", "s", NUM, lo=0.0), Field("train_s", "s", NUM, lo=0.0), Field("eval_s", "s", NUM, lo=0.0),
        Field("images_per_s", "images/s", NUM, lo=0.0), count("step"), Field("resumed", "", BOOL),
        count("steps", "optimizer steps of a partial last epoch (a time budget ran out)"),
    ),
}

for _fields_of_kind in KINDS.values():
    _fields_of_kind.update({f.name: f for f in COMMON})

# fields that hold per-layer rows, checked against ROW_FIELDS
ROW_LISTS = ("layers",)


def declared(kind: str) -> dict[str, Field]:
    try:
        return KINDS[kind]
    except KeyError:
        raise RecordSchemaError(f"unknown record kind {kind!r}") from None


def field_of(kind: str, name: str) -> Field:
    """The declaration of ``name`` for ``kind``; a name no writer may write is a
    programming error in the reader."""
    fields = declared(kind)
    if name not in fields:
        raise RecordSchemaError(f"{kind} records have no field {name!r} (edgecnn/schema.py declares: "
                                f"{', '.join(sorted(fields))})")
    return fields[name]


def problems(rec: Any, strict: bool = True) -> list[str]:
    """What is wrong with ``rec`` against its kind's declaration (empty: fine).
    ``strict`` also reports undeclared fields and layer-row fields (writers);
    readers pass False and only check the fields they will use."""
    out: list[str] = []
    fields = declared(rec.kind)
    for name, value in rec.metrics.items():
        f = fields.get(name)
        if f is None:
            if strict:
                out.append(f"undeclared field {name!r}")
            continue
        bad = f.check(value)
        if bad:
            out.append(bad)
        if strict and name in ROW_LISTS and isinstance(value, (list, tuple)):
            out.extend(_row_problems(name, value))
    for f in fields.values():
        if f.required is not None and f.required(rec) and rec.metrics.get(f.name) is None:
            out.append(f"missing required field {f.name!r}")
    if rec.kind == "latency":
        out.extend(_check_latency(rec))
    return out


def _row_problems(list_name: str, rows: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            out.append(f"{list_name}[{i}] is not an object")
            continue
        for k, v in row.items():
            f = ROW_FIELDS.get(k)
            if f is None:
                out.append(f"{list_name}[{i}] has undeclared field {k!r}")
            elif (bad := f.check(v)):
                out.append(f"{list_name}[{i}]: {bad}")
        if "name" not in row:
            out.append(f"{list_name}[{i}] has no name")
        if len(out) > 5:
            break
    return out


def _check_latency(rec: Any) -> list[str]:
    """An ok latency record has a headline: the p50, or (benchmark_model, which
    prints no median) the mean with ``latency_statistic = "mean"``."""
    if rec.status != "ok":
        return []
    m = rec.metrics
    if m.get("latency_ms_p50") is not None:
        return [] if m.get("latency_statistic") in (None, "p50") else ["latency_statistic must be p50 when a "
                                                                        "latency_ms_p50 is given"]
    if m.get("latency_statistic") == "mean" and m.get("latency_ms_mean") is not None:
        return []
    return ["an ok latency record needs latency_ms_p50 (or latency_ms_mean with latency_statistic = 'mean')"]


def validate(rec: Any) -> None:
    """Raise ``RecordSchemaError`` unless ``rec`` matches its declaration exactly."""
    found = problems(rec, strict=True)
    if found:
        raise RecordSchemaError(f"{rec.kind} record of {rec.model!r} ({rec.status}, {rec.source}) does not match "
                                f"edgecnn/schema.py: " + "; ".join(found[:8]))


def row_value(row: Mapping[str, Any], name: str) -> Any:
    """A per-layer row's field ``name`` (None when absent); ``name`` must be a
    declared row field."""
    if name not in ROW_FIELDS:
        raise RecordSchemaError(f"layer rows have no field {name!r} (edgecnn/schema.py ROW_FIELDS)")
    return row.get(name)


def headline_latency(rec: Any) -> tuple[Optional[float], str]:
    """(latency in ms, statistic): the p50, else the mean a tool reported instead."""
    p50 = rec.metric("latency_ms_p50")
    if type_ok(p50, NUM):
        return float(p50), "p50"
    mean = rec.metric("latency_ms_mean")
    if rec.metric("latency_statistic") == "mean" and type_ok(mean, NUM):
        return float(mean), "mean"
    return None, "none"
