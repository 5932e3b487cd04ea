"""edgecnn.devices"""
