"""xfer: deep transfer learning for Apache MXNet.

A re-build of Amazon's Xfer (``xfer-ml`` 1.1) on today's Python stack. Hand xfer a trained
*source* network and a small labelled *target* data set and it repurposes the network for
the new task. GPy is imported only when a Gaussian-process repurposer is first used.
"""
__version__ = '1.1.0'

from . import data  # noqa: E402,F401
from . import model_handler  # noqa: E402,F401
from .repurposer import Repurposer  # noqa: E402
from .meta_model_repurposer import MetaModelRepurposer  # noqa: E402
from .lr_repurposer import LrRepurposer  # noqa: E402
from .svm_repurposer import SvmRepurposer  # noqa: E402
from .gp_repurposer import GpRepurposer  # noqa: E402
from . import prob  # noqa: E402,F401
from .bnn_repurposer import BnnRepurposer  # noqa: E402
from .bnn_classifier import BnnClassifier  # noqa: E402
from .neural_network_repurposer import NeuralNetworkRepurposer  # noqa: E402
from .neural_network_fine_tune_repurposer import NeuralNetworkFineTuneRepurposer  # noqa: E402
from .neural_network_random_freeze_repurposer import NeuralNetworkRandomFreezeRepurposer  # noqa: E402
from .model_handler import gluon_to_module  # noqa: E402
from .loading import load  # noqa: E402
from . import distributed  # noqa: E402,F401

__all__ = ['Repurposer', 'MetaModelRepurposer', 'LrRepurposer', 'SvmRepurposer', 'GpRepurposer', 'BnnRepurposer',
           'BnnClassifier', 'NeuralNetworkRepurposer', 'NeuralNetworkFineTuneRepurposer',
           'NeuralNetworkRandomFreezeRepurposer', 'gluon_to_module', 'load', 'data', 'model_handler', 'prob',
           'distributed']
