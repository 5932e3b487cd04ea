"""edgecnn.devices: device definitions (``devices/*.toml`` -> ``DeviceSpec``,
compute units with vendor or derived peaks, the runtimes each device runs).
Reaching them is ``edgecnn.remote``; predicting them ``edgecnn.predict``."""

from edgecnn.devices.spec import DeviceSpec, list_devices, load_device, resolve_device_name

__all__ = ["DeviceSpec", "list_devices", "load_device", "resolve_device_name"]
