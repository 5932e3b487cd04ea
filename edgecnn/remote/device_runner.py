#!/usr/bin/env python3
"""edgecnn device runner: the one script pushed to a remote device.

Self-contained on purpose: the Python standard library, numpy, the runtime
being timed and ``timing.py`` (edgecnn's timing loop, pushed beside it), so a
Jetson or a Raspberry Pi needs no edgecnn install. It never imports edgecnn
and keeps to Python 3.6 (old JetPack images). Usage on the device::

    python3 device_runner.py probe             # JSON: python, numpy, runtimes, host
    python3 device_runner.py run - < JOB.json  # time one artifact (the job on stdin, as edgecnn sends it)

Every answer is one stdout line starting ``EDGECNN-RESULT `` (runtime log noise never breaks parsing).
``run`` answers "ok" (``timing.measure_call`` statistics in ms: a TensorRT engine's device time with its
copies beside it; the runtime version, memory, the artifact's size with its weights file), "unsupported"
or "failed" (the error). ``settings`` are the exporter's (OpenVINO's precision hint, NCNN's fp16 storage,
MNN's session precision); inputs are seeded random tensors in the artifact's shape (``timing.random_inputs``).
"""

import importlib
import json
import os
import platform
import shutil
import socket
import sys
import time
import traceback

MARK = "EDGECNN-RESULT "
TIMING_KEYS = ("warmup", "warmup_s", "runs", "min_time_s", "max_time_s", "max_runs")


def _emit(obj) -> None:
    sys.stdout.write(MARK + json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _timing():
    """edgecnn's timing module: pushed beside this script, or the package one (from an edgecnn checkout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.exists(os.path.join(here, "timing.py")):
        sys.path.insert(0, here)
        import timing  # noqa: E402  (the pushed copy)

        return timing
    return importlib.import_module("edgecnn.runtime.timing")


# ---------------------------------------------------------------------------
# what is installed here
# ---------------------------------------------------------------------------
def _version(module: str):
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install (numpy ABI, missing .so)
        return None, f"{type(exc).__name__}: {exc}"
    return str(getattr(mod, "__version__", "unknown")), None


def _litert_module():
    """The LiteRT interpreter module: ai_edge_litert, else tflite_runtime."""
    for name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return importlib.import_module(name), name.split(".")[0]
        except Exception:
            continue
    return None, None


def _package_version(pkg: str) -> str:
    """``pkg.__version__``, else the installed distribution's version."""
    v, _ = _version(pkg)
    if v not in (None, "unknown"):
        return v
    try:
        from importlib import metadata  # novermin (3.8+; the except below covers older Pythons)

        return metadata.version(pkg.replace("_", "-"))
    except Exception:
        return "unknown"


def runtime_versions() -> dict:
    """{runtime: {"version": str|None, "error": str|None, ...}} for this device."""
    out = {}
    v, err = _version("onnxruntime")
    out["onnxruntime"] = {"version": v, "error": err}
    mod, pkg = _litert_module()
    if mod is None:
        out["litert"] = {"version": None, "error": "neither ai_edge_litert nor tflite_runtime is importable"}
    else:
        out["litert"] = {"version": _package_version(pkg), "error": None, "package": pkg}
    for runtime, module in (("openvino", "openvino"), ("executorch", "executorch"), ("ncnn", "ncnn"),
                            ("mnn", "MNN")):
        v, err = _version(module)
        out[runtime] = {"version": _package_version(module.split(".")[0]) if err is None else None, "error": err}
    v, err = _version("tensorrt")
    trtexec = shutil.which("trtexec") or next((p for p in ("/usr/src/tensorrt/bin/trtexec",) if os.path.exists(p)), None)
    out["tensorrt"] = {"version": v, "error": err, "trtexec": trtexec}
    return out


def environment() -> dict:
    try:
        import numpy

        np_version = numpy.__version__
    except Exception as exc:
        np_version = f"missing ({exc})"
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = None
    for p in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            with open(p, "rb") as fh:
                model = fh.read().rstrip(b"\0").decode(errors="replace")
                break
        except OSError:
            continue
    return {"host": socket.gethostname(), "platform": platform.platform(), "machine": platform.machine(),
            "cpu": cpu, "cpu_count": os.cpu_count(), "board": model, "python": platform.python_version(),
            "python_executable": sys.executable, "numpy": np_version}


# ---------------------------------------------------------------------------
# runners: load an artifact, return (infer(x) -> y, input shape, dtype, sync)
# ---------------------------------------------------------------------------
class Unsupported(Exception):
    """The runtime is not installed on this device."""


def default_threads() -> int:
    """Threads when none are given: the usable cores, at most 4 (as
    ``edgecnn.runtime.base.default_threads`` does locally)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _onnxruntime(path: str, threads, settings=None):
    """An ONNX Runtime CPU session as edgecnn's isolated local worker sets it up: ``threads`` intra-op
    threads, one inter-op thread, sequential, all graph optimizations, ORT's own spin default (alone here)."""
    try:
        import onnxruntime as ort
    except Exception as exc:
        raise Unsupported(f"onnxruntime is not importable on this device ({exc})")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.add_session_config_entry("session.force_spinning_stop", "0")
    providers = ["CPUExecutionProvider"]
    sess = ort.InferenceSession(path, opts, providers=providers)
    inp = sess.get_inputs()[0]
    dtype = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8",
             "tensor(int8)": "int8"}.get(inp.type, "float32")
    name = inp.name

    def infer(x):
        return sess.run(None, {name: x})[0]

    return infer, list(inp.shape), dtype, None, ort.__version__, {"providers": providers, "spin": True,
                                                                  "force_spinning_stop": False}


def _litert(path: str, threads, settings=None):
    mod, pkg = _litert_module()
    if mod is None:
        raise Unsupported("LiteRT is not importable on this device (pip install ai-edge-litert, or tflite-runtime)")
    interp = mod.Interpreter(model_path=path, num_threads=int(threads))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    idx_in, idx_out = inp["index"], out["index"]

    def infer(x):
        interp.set_tensor(idx_in, x)
        interp.invoke()
        return interp.get_tensor(idx_out)

    import numpy as np

    version = _package_version(pkg)
    return (infer, [int(v) for v in inp["shape"]], np.dtype(inp["dtype"]).name, None, version,
            {"interpreter": pkg, "delegate": "xnnpack"})


def _tensorrt(path: str, threads, settings=None):
    """A serialized engine through TensorRT's Python API (10.x tensor API),
    device buffers through cuda-python's ``cudart``."""
    try:
        import tensorrt as trt
    except Exception as exc:
        raise Unsupported(f"the tensorrt Python package is not importable on this device ({exc})")
    try:
        from cuda import cudart  # cuda-python
    except Exception as exc:
        raise Unsupported(f"cuda-python (cudart) is needed to feed TensorRT engines from Python ({exc})")
    import numpy as np

    logger = trt.Logger(trt.Logger.WARNING)
    with open(path, "rb") as fh:
        engine = trt.Runtime(logger).deserialize_cuda_engine(fh.read())
    if engine is None:
        raise RuntimeError(f"TensorRT could not deserialize {path} (built by another TensorRT version?)")
    ctx = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    _, stream = cudart.cudaStreamCreate()
    bufs, host_out = {}, {}
    for n in names:
        shape = tuple(ctx.get_tensor_shape(n))
        dt = np.dtype(trt.nptype(engine.get_tensor_dtype(n)))
        bufs[n] = (cudart.cudaMalloc(int(np.prod(shape)) * dt.itemsize)[1], int(np.prod(shape)) * dt.itemsize)
        ctx.set_tensor_address(n, bufs[n][0])
        if n in outputs:
            host_out[n] = np.empty(shape, dt)
    in_name, out_name = inputs[0], outputs[0]
    H2D, D2H = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost

    def infer(x):
        x = np.ascontiguousarray(x)
        cudart.cudaMemcpyAsync(bufs[in_name][0], x.ctypes.data, x.nbytes, H2D, stream)
        ctx.execute_async_v3(stream)
        y = host_out[out_name]
        cudart.cudaMemcpyAsync(y.ctypes.data, bufs[out_name][0], y.nbytes, D2H, stream)
        cudart.cudaStreamSynchronize(stream)
        return y

    infer.device_phases = _timing().cudart_phases(  # device time apart from the copies, as trtexec
        cudart, stream, lambda: ctx.execute_async_v3(stream), bufs[in_name], bufs[out_name])
    shape = list(ctx.get_tensor_shape(in_name))
    dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(in_name))).name
    return infer, shape, dtype, None, trt.__version__, {"api": "tensorrt python"}


def _openvino_core():
    try:
        import openvino as ov

        return ov.Core, ov
    except Exception as exc:
        try:  # OpenVINO before 2023.1
            from openvino.runtime import Core
            import openvino.runtime as ov

            return Core, ov
        except Exception:
            raise Unsupported(f"openvino is not importable on this device ({exc})")


def _openvino(path: str, threads, settings=None):
    """An OpenVINO IR on the CPU plugin: LATENCY hint, ``threads`` inference
    threads and the exporter's INFERENCE_PRECISION_HINT (f32 when none), read
    back from the compiled model (a CPU without bf16 runs f32)."""

    Core, ov = _openvino_core()
    settings = settings or {}
    core = Core()
    model = core.read_model(path)
    hint = settings.get("INFERENCE_PRECISION_HINT")
    if not hint and model.has_rt_info(["edgecnn", "inference_precision_hint"]):
        hint = model.get_rt_info(["edgecnn", "inference_precision_hint"]).astype(str)
    hint = hint or "f32"
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
                                                 "INFERENCE_NUM_THREADS": int(threads)})
    request = compiled.create_infer_request()

    def infer(x):
        request.infer({0: x})
        return request.get_output_tensor(0).data.copy()

    inp = compiled.input(0)
    shape = [d.get_length() if d.is_static else -1 for d in inp.get_partial_shape()]
    dtype = {"f32": "float32", "f16": "float16", "u8": "uint8", "i8": "int8"}.get(
        inp.get_element_type().get_type_name(), "float32")
    ran = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    version = ov.get_version() if hasattr(ov, "get_version") else _package_version("openvino")
    return infer, shape, dtype, None, version, {"inference_precision": ran, "inference_precision_hint": hint,
                                                "performance_hint": "LATENCY", "plugin": "CPU"}


def _executorch(path: str, threads, settings=None):
    """A .pte program through executorch.runtime (XNNPACK for what was lowered);
    the XNNPACK thread pool sized to ``threads``."""
    try:
        import torch
        from executorch.runtime import Runtime, Verification
    except Exception as exc:
        raise Unsupported(f"executorch (with torch) is not importable on this device ({exc})")
    used = None
    try:
        from executorch.extension.pybindings import portable_lib

        portable_lib._unsafe_reset_threadpool(int(threads))
        used = int(portable_lib._threadpool_get_thread_count())
    except Exception:  # an old build without the thread pool controls: its default
        pass
    program = Runtime.get().load_program(path, verification=Verification.Minimal)
    method = program.load_method("forward")
    meta = method.metadata.input_tensor_meta(0)
    dtype = {0: "uint8", 1: "int8", 5: "float16", 6: "float32"}.get(int(meta.dtype()), "float32")

    def infer(x):
        import numpy as np

        return method.execute([torch.from_numpy(np.ascontiguousarray(x))])[0].numpy()

    return infer, [int(d) for d in meta.sizes()], dtype, None, _package_version("executorch"), \
        {"delegate": "xnnpack", "threads_used": used}


def _ncnn(path: str, threads, settings=None):
    """An NCNN .param/.bin pair, image by image (NCNN has no batch dimension);
    fp16 storage and arithmetic as the exporter chose (off for fp32)."""
    try:
        import ncnn
    except Exception as exc:
        raise Unsupported(f"ncnn is not importable on this device ({exc})")
    import numpy as np

    settings = settings or {}
    fp16 = bool(settings.get("fp16", False))
    weights = path[: -len(".param")] + ".bin" if path.endswith(".param") else path + ".bin"
    net = ncnn.Net()
    net.opt.num_threads = int(threads)
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = fp16
    net.opt.use_bf16_storage = False
    if net.load_param(path) != 0 or net.load_model(weights) != 0:
        raise RuntimeError(f"ncnn could not load {path} and {weights}")
    name_in = settings.get("input") or net.input_names()[0]
    name_out = settings.get("output") or net.output_names()[0]

    def infer(x):
        outs = []
        for image in x:
            ex = net.create_extractor()
            data = np.ascontiguousarray(image)  # ncnn.Mat borrows this memory
            ex.input(name_in, ncnn.Mat(data))
            ret, out = ex.extract(name_out)
            if ret != 0:
                raise RuntimeError(f"ncnn extract failed ({ret})")
            outs.append(np.array(out, dtype=np.float32).reshape(-1))
        return np.stack(outs)

    arith = bool(fp16 and ncnn.cpu_support_arm_asimdhp())
    return infer, [-1, 3, -1, -1], "float32", None, _package_version("ncnn"), \
        {"fp16_storage": fp16, "inference_precision": "f16" if arith else "f32", "batch": "image by image"}


def _mnn(path: str, threads, settings=None):
    """A .mnn model on MNN's CPU backend with the exporter's session settings (precision high = fp32 when none)."""
    try:
        import MNN
    except Exception as exc:
        raise Unsupported(f"MNN is not importable on this device ({exc})")
    import numpy as np

    precision, winograd = (settings or {}).get("precision") or "high", (settings or {}).get("winograd_memory_level")
    interp = MNN.Interpreter(path)
    if winograd is not None:
        interp.setSessionHint(3, int(winograd))  # Interpreter::HintMode WINOGRAD_MEMORY_LEVEL
    session = interp.createSession({"backend": "CPU", "precision": precision, "numThread": int(threads)})
    inp, out = interp.getSessionInput(session), interp.getSessionOutput(session)
    out_shape = tuple(int(d) for d in out.getShape())
    host_out = MNN.Tensor(out_shape, MNN.Halide_Type_Float, np.zeros(out_shape, np.float32),
                          MNN.Tensor_DimensionType_Caffe)
    feed = _timing().mnn_input_feeder(MNN, inp, inp.getShape())  # one host tensor, refilled: as runtime/mnn_runner.py

    def infer(x):
        feed(x)
        interp.runSession(session)
        out.copyToHostTensor(host_out)
        return np.array(host_out.getNumpyData(), dtype=np.float32).reshape(out_shape)

    version = MNN.version() if hasattr(MNN, "version") else _package_version("MNN")
    return infer, [int(d) for d in inp.getShape()], "float32", None, version, {
        "mnn_precision": precision, "backend": "CPU", "winograd_memory_level": winograd}


LOADERS = {"onnxruntime": _onnxruntime, "litert": _litert, "tensorrt": _tensorrt, "openvino": _openvino,
           "executorch": _executorch, "ncnn": _ncnn, "mnn": _mnn}


def run_job(job: dict) -> dict:
    import numpy as np

    runtime = job["runtime"]
    path = os.path.expanduser(job["artifact"])
    result = {"job": job.get("id"), "runtime": runtime, "artifact": os.path.basename(path)}
    if runtime not in LOADERS:
        return {**result, "status": "unsupported", "error": f"the device runner has no runtime {runtime!r}"}
    if not os.path.exists(path):
        return {**result, "status": "failed", "error": f"artifact {path} is not on the device"}
    threads = int(job.get("threads") or default_threads())
    try:
        _import_runtime(runtime)
    except Unsupported as exc:
        return dict(result, status="unsupported", error=str(exc))
    rss_before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    try:
        infer, shape, dtype, sync, version, settings = LOADERS[runtime](path, threads, job.get("settings"))
    except Unsupported as exc:
        return dict(result, status="unsupported", error=str(exc))
    load_ms = (time.perf_counter() - t0) * 1e3
    rss_loaded = _status_mb("VmRSS")
    shape = concrete_shape(shape, int(job.get("batch") or 1), job.get("input_shape"))
    timing = _timing()
    inputs = timing.random_inputs(shape, dtype, count=int(job.get("input_pool", 4)), seed=int(job.get("seed", 0)))
    y = infer(inputs[0])  # one call outside the timed region: errors surface here
    kwargs = {k: job[k] for k in TIMING_KEYS if job.get(k) is not None}
    stats = timing.measure_call(infer, inputs, sync, **kwargs)  # device time apart from copies on a GPU
    memory = {"rss_before_mb": rss_before, "rss_loaded_mb": rss_loaded, "peak_rss_mb": _status_mb("VmHWM")}
    weights = os.path.splitext(path)[0] + ".bin"  # what OpenVINO's .xml and NCNN's .param load beside them
    size = os.path.getsize(path) + (os.path.getsize(weights) if path.endswith((".xml", ".param")) else 0)
    return dict(result, status="ok", runtime_version=version, threads=threads, settings=settings,
                input_shape=[int(v) for v in shape], input_dtype=dtype, output_shape=[int(v) for v in np.shape(y)],
                load_ms=load_ms, stats=stats, memory=memory, artifact_bytes=size)


def _status_mb(key):
    """VmRSS / VmHWM of this process in MB from /proc/self/status (None elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _import_runtime(runtime):
    """Import the runtime's library before the first memory reading (the figures count the model, not the library)."""
    module = {"onnxruntime": "onnxruntime", "tensorrt": "tensorrt", "openvino": "openvino", "ncnn": "ncnn",
              "mnn": "MNN", "executorch": "executorch.runtime"}.get(runtime)
    if runtime == "litert" and _litert_module()[0] is None:
        raise Unsupported("LiteRT is not importable on this device (pip install ai-edge-litert, or tflite-runtime)")
    if module and _version(module)[0] is None:
        what = "the tensorrt Python package" if runtime == "tensorrt" else module
        raise Unsupported("{} is not importable on this device ({})".format(what, _version(module)[1]))


def concrete_shape(shape, batch: int, sample_shape=None) -> list:
    """Fill dynamic dimensions (None, -1, "batch") from ``[batch, *sample_shape]``."""
    wanted = [batch, *(sample_shape or [])]
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, int) and d > 0:
            out.append(d)
        elif i < len(wanted):
            out.append(int(wanted[i]))
        else:
            raise ValueError(f"input dimension {i} of {list(shape)} is dynamic and no size was given for it")
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("probe", "run"):
        sys.stderr.write(__doc__ or "")
        return 2
    if argv[0] == "probe":
        _emit({"status": "ok", "env": environment(), "runtimes": runtime_versions()})
        return 0
    if argv[1:] == ["-"]:
        job = json.load(sys.stdin)
    else:
        with open(argv[1]) as fh:
            job = json.load(fh)
    try:
        result = run_job(job)
    except Exception as exc:  # one failed model must not lose the others' results
        result = {"job": job.get("id"), "runtime": job.get("runtime"), "status": "failed",
                  "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    result["env"] = environment()
    _emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
