"""edgecnn.train"""
