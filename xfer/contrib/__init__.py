"""Contributed extensions of xfer that go beyond repurposing one source network.

:mod:`xfer.contrib.xfer_leap` meta-learns an initialisation from many tasks (Leap).
"""
