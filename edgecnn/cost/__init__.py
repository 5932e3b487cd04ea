"""edgecnn.cost"""
