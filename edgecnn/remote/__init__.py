"""edgecnn.remote: measuring on devices edgecnn reaches over SSH or adb.

``transports`` (local, ssh, adb: run, push, pull), ``device_runner.py`` (the
one self-contained script pushed to a device: Python 3.6, standard library +
numpy + the runtime), ``trtexec`` (TensorRT engines built on the device),
``adb_benchmark`` (LiteRT's ``benchmark_model`` on phones), ``state`` (clocks
and governors), and ``profile`` (probe a device, export here, time there:
``probe``, ``profile_remote``)."""

from edgecnn.remote.profile import ProbeResult, RemoteError, probe, profile_remote

__all__ = ["ProbeResult", "RemoteError", "probe", "profile_remote"]
