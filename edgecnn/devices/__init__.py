"""edgecnn.devices: device definitions (``devices/*.toml`` -> DeviceSpec),
transports to reach them, and roofline prediction for the unreachable."""

from edgecnn.devices.spec import DeviceSpec, list_devices, load_device, resolve_device_name

__all__ = ["DeviceSpec", "list_devices", "load_device", "resolve_device_name"]
