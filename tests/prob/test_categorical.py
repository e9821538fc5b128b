"""Tests of the Categorical observation model."""
import re

import mxnet as mx
import numpy as np
import pytest
from scipy.special import log_softmax

from xfer.prob import Categorical, Likelihood


def test_log_pdf_sums_log_softmax_at_the_labels(ctx):
    logits = np.random.randn(6, 4).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2, 0])

    log_pdf = Categorical(ctx).log_pdf(mx.nd.array(labels, ctx=ctx), mx.nd.array(logits, ctx=ctx))

    assert log_pdf.shape == (1,)
    np.testing.assert_allclose(log_pdf.asnumpy(),
                               [log_softmax(logits, axis=1)[np.arange(6), labels].sum()], rtol=1e-5)


def test_is_a_likelihood_without_parameters(ctx):
    categorical = Categorical(ctx)

    assert isinstance(categorical, Likelihood)
    assert categorical.shapes == [] and categorical.raw_params == []
    assert categorical.ctx == ctx


@pytest.mark.parametrize('labels_shape, outputs_shape', [((5,), (4, 3)), ((4, 1), (4, 3)),
                                                         ((4,), (4,))])
def test_mismatched_shapes_are_named(ctx, labels_shape, outputs_shape):
    message = 'Expected labels of shape (n,) and outputs of shape (n, classes), got {} and {}'
    with pytest.raises(ValueError, match=re.escape(message.format(labels_shape, outputs_shape))):
        Categorical(ctx).log_pdf(mx.nd.zeros(labels_shape), mx.nd.zeros(outputs_shape))
