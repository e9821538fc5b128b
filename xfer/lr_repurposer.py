"""Logistic regression on source-network features."""
import mxnet as mx
from sklearn.linear_model import LogisticRegression

from .sklearn_repurposer import SklearnRepurposer
from .validation import InvalidParameterError, check_number

#: lbfgs iterations; raised from scikit-learn's 100 because deep features are unscaled.
_MAX_ITERATIONS = 1000


class LrRepurposer(SklearnRepurposer):
    """L2-regularised multinomial logistic regression (scikit-learn) with balanced class weights.

    Parameters
    ----------
    tol : float, default 1e-4
        Tolerance of the optimiser's stopping criterion.
    c : float, default 1.0
        Inverse of the L2 regularisation strength.
    n_jobs : int, default -1
        CPU cores scikit-learn may use (-1: all).
    """

    def __init__(self, source_model, feature_layer_names, context_function=mx.context.cpu, num_devices=1,
                 tol=1e-4, c=1.0, n_jobs=-1):
        super().__init__(source_model, feature_layer_names, context_function, num_devices)
        self.tol = check_number('tol', tol)
        self.c = check_number('c', c)
        if n_jobs is not None and (not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0):
            raise InvalidParameterError('n_jobs must be None or a non-zero int (-1: all cores), got {!r}'.format(
                n_jobs))
        self.n_jobs = n_jobs

    def get_params(self):
        return dict(super().get_params(), tol=self.tol, c=self.c, n_jobs=self.n_jobs)

    def _new_model(self):
        return LogisticRegression(C=self.c, tol=self.tol, n_jobs=self.n_jobs, class_weight='balanced',
                                  max_iter=_MAX_ITERATIONS)
