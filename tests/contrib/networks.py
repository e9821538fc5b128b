"""The small Gluon network the Leap tests meta-learn: 1 input, a tanh layer, 1 output."""
import mxnet as mx
from mxnet import gluon


def small_network(seed=3, hidden=4):
    """A 1-``hidden``-1 tanh network with N(0, 1) weights drawn from MXNet's generator seeded with ``seed``."""
    mx.random.seed(seed)
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(hidden, in_units=1, activation='tanh'), gluon.nn.Dense(1, in_units=hidden))
    net.initialize(mx.init.Normal(1.0))
    return net
