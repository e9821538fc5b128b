"""Fixtures shared by the xfer.prob tests."""
import mxnet as mx
import numpy as np
import pytest


@pytest.fixture
def ctx():
    """The context the tests place parameters on."""
    return mx.cpu()


@pytest.fixture(autouse=True)
def seeded():
    """Make every test's random draws repeatable."""
    mx.random.seed(0)
    np.random.seed(0)
