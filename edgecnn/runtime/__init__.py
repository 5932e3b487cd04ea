"""edgecnn.runtime"""
