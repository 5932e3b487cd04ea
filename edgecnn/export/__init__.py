"""edgecnn.export"""
