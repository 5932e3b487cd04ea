"""edgecnn.report"""
