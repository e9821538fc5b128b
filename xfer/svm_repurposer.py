"""Support vector machine on source-network features."""
import mxnet as mx
from sklearn.svm import SVC

from .sklearn_repurposer import SklearnRepurposer
from .validation import InvalidParameterError, check_choice, check_number

#: Kernels of scikit-learn's ``SVC`` that need no callable.
KERNELS = ('linear', 'poly', 'rbf', 'sigmoid')


class SvmRepurposer(SklearnRepurposer):
    """A scikit-learn ``SVC`` on the source network's features.

    Parameters
    ----------
    c : float, default 1.0
        Penalty of the error term.
    kernel : str, default 'linear'
        ``'linear'``, ``'poly'``, ``'rbf'`` or ``'sigmoid'``.
    gamma : float or str, default 'auto'
        Kernel coefficient for ``'rbf'``, ``'poly'`` and ``'sigmoid'``.
    enable_probability_estimates : bool, default False
        Fit Platt scaling so that :meth:`predict_probability` works (slower to train).
    """

    def __init__(self, source_model, feature_layer_names, context_function=mx.context.cpu, num_devices=1,
                 c=1.0, kernel='linear', gamma='auto', enable_probability_estimates=False):
        super().__init__(source_model, feature_layer_names, context_function, num_devices)
        self.c = check_number('c', c)
        self.kernel = check_choice('kernel', kernel, KERNELS)
        self.gamma = gamma if gamma in ('auto', 'scale') else check_number("gamma (or 'auto' / 'scale')", gamma)
        if not isinstance(enable_probability_estimates, bool):
            raise InvalidParameterError('enable_probability_estimates must be True or False, got {!r}'.format(
                enable_probability_estimates))
        self.enable_probability_estimates = enable_probability_estimates

    def get_params(self):
        return dict(super().get_params(), c=self.c, kernel=self.kernel, gamma=self.gamma,
                    enable_probability_estimates=self.enable_probability_estimates)

    def _new_model(self):
        return SVC(C=self.c, kernel=self.kernel, gamma=self.gamma, probability=self.enable_probability_estimates,
                   random_state=0)

    def predict_probability(self, test_iterator):
        if not self.enable_probability_estimates:
            raise ValueError('SvmRepurposer was built with enable_probability_estimates=False, so it predicts '
                             'no probabilities; build it with enable_probability_estimates=True')
        return super().predict_probability(test_iterator)
