"""Transferability scores: how well a source network suits a target task, without any training.

Each score needs one forward pass of the target data through the source network:

* :func:`logme` and :func:`h_score` judge the *features* of a layer, so :func:`rank_layers`
  can tell which layer of a source is the best one to repurpose;
* :func:`leep` and :func:`nce` judge the source's *predictions* over its own classes, so
  :func:`rank_sources` can tell which of several source networks suits the target best.

Higher is better for every score.
"""
import functools
from collections import namedtuple

import numpy as np
import scipy.linalg
import scipy.special

from .data import as_data_iter
from .model_handler import ModelHandler, consts
from .validation import check_finite

#: Layer types :func:`rank_layers` scores when no layers are named.
FEATURE_LAYER_TYPES = (consts.CONVOLUTION, consts.POOLING, consts.FULLY_CONNECTED, consts.ACTIVATION,
                       'LeakyReLU', consts.FLATTEN, 'Concat', 'elemwise_add')
#: Layer types that keep every value of their input (element-wise maps, reshapes), looked through when
#: deciding whether a layer's output is superseded.
_PASS_THROUGH_TYPES = (consts.ACTIVATION, 'LeakyReLU', 'clip', 'BatchNorm', 'Dropout', consts.FLATTEN, 'Reshape')
#: Layer types whose output supersedes an input: a pooling layer summarises it, a concatenation holds it.
_SUPERSEDING_TYPES = (consts.POOLING, 'Concat')
#: Output layer types whose outputs already are class probabilities.
PROBABILITY_LAYER_TYPES = (consts.SOFTMAX_OUTPUT, 'softmax', 'SoftmaxActivation')

#: LogME searches t = alpha / beta over these decades times the largest eigenvalue of F^T F:
#: from a (nearly) noise-free fit to weights shrunk to zero. Features fitting the labels exactly
#: (evidence -> inf as t -> 0) are scored at the lower end.
_RATIO_DECADES = (-16, 8)
_RATIO_GRID_POINTS = 97
_GOLDEN_SECTION_STEPS = 40
_PROBABILITY_SUM_TOLERANCE = 1e-4


# ==================================================================================== scores
def logme(features, labels):
    """LogME: log maximum evidence of a Bayesian linear model from the features to the labels.

    For each class c, with targets y = 1[label == c], the model is y = F w + noise,
    w ~ N(0, I / alpha), noise ~ N(0, I / beta). Its log evidence

    L(alpha, beta) = n/2 log beta + D/2 log alpha - n/2 log 2pi - beta/2 ||F m - y||^2
    - alpha/2 ||m||^2 - 1/2 log|alpha I + beta F^T F|,  m = beta (alpha I + beta F^T F)^-1 F^T y,

    is maximised over alpha and beta; the score is max L / n averaged over classes (You et al.,
    "LogME: Practical assessment of pre-trained models for transfer learning", ICML 2021).
    The maximum is the paper's fixed point (gamma = sum beta s_i / (alpha + beta s_i),
    alpha = gamma / ||m||^2, beta = (n - gamma) / ||F m - y||^2, s_i the eigenvalues of F^T F),
    found without the paper's iteration, which can take thousands of steps when a class is
    unrelated to the features: for fixed t = alpha / beta the best beta has a closed form, and
    L is maximised over t on a log grid, refined by golden-section search. One
    eigendecomposition, of F^T F or of F F^T (the smaller), serves every class and every t.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    labels : array-like of int, shape (n_samples,)
        Target classes, at least two.

    Returns
    -------
    float
        Higher means the features suit the target better. Invariant to scaling and rotating
        the features. Features that reproduce the labels exactly, whose evidence is unbounded,
        get a large finite score (t is searched down to 1e-16 times the largest eigenvalue).
    """
    features = _checked_features(features)
    targets = _one_hot(_target_classes(labels, len(features)))
    eigenvalues, projections = _gram_spectrum(features, targets)
    evidence = _maximised_log_evidence(eigenvalues, projections ** 2, targets.sum(axis=0), len(features))
    return float(np.mean(evidence) / len(features))


def h_score(features, labels, shrinkage=1e-6):
    """H-score: tr(cov(f)^-1 cov(E[f | y])), the share of feature variance the labels explain.

    cov(E[f | y]) = sum_c p_c (mu_c - mu)(mu_c - mu)^T from the class means mu_c (Bao et al.,
    "An information-theoretic approach to transferability in task transfer learning", ICIP 2019).
    For stability cov(f) is shrunk to cov(f) + lambda I, with lambda = ``shrinkage`` times the
    average feature variance, so rank-deficient covariances (dead units, more features than
    samples) are handled. With more features than samples the same value is computed from the
    n x n Gram matrix, using (F^T F / n + lambda I)^-1 F^T = F^T (F F^T / n + lambda I)^-1.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    labels : array-like of int, shape (n_samples,)
        Target classes, at least two.
    shrinkage : float, default 1e-6
        lambda relative to the average feature variance; must be > 0.

    Returns
    -------
    float
        Between 0 and (number of classes - 1); higher means more separable classes. With
        about as many feature dimensions as samples it saturates at the upper bound.
    """
    features = _checked_features(features)
    classes = _target_classes(labels, len(features))
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) or not shrinkage > 0:
        raise ValueError('shrinkage must be a number > 0, got {!r}'.format(shrinkage))
    centred = features - features.mean(axis=0)
    ridge = shrinkage * np.mean(centred ** 2)
    if ridge == 0:
        return 0.0  # constant features explain nothing
    class_sizes = np.bincount(classes)
    averaging = _one_hot(classes) / class_sizes  # column c averages the samples of class c
    return float(class_sizes @ _class_mean_mahalanobis(centred, averaging, ridge) / len(features))


def leep(source_probabilities, labels):
    """LEEP: log expected empirical prediction of the target labels from the source's predictions.

    With theta(x) the source's softmax output over its classes z, the empirical joint
    P(y, z) = 1/n sum_i theta(x_i)_z [y_i = y] gives P(y | z) = P(y, z) / P(z), and
    LEEP = 1/n sum_i log sum_z P(y_i | z) theta(x_i)_z (Nguyen et al., "LEEP: A new measure to
    evaluate transferability of learned representations", ICML 2020). LEEP <= 0; for one-hot
    theta it equals :func:`nce`.

    Parameters
    ----------
    source_probabilities : array-like of shape (n_samples, n_source_classes)
        Rows of non-negative numbers that sum to 1.
    labels : array-like of int, shape (n_samples,)
        Target classes, at least two.

    Returns
    -------
    float
    """
    probabilities = _checked_probabilities(source_probabilities)
    classes = _target_classes(labels, len(probabilities))
    conditional = _conditional_distribution(_one_hot(classes).T @ probabilities / len(classes))
    expected_prediction = np.einsum('iz,iz->i', probabilities, conditional[classes])
    return float(np.mean(np.log(expected_prediction)))


def nce(source_labels, labels):
    """NCE: negative conditional entropy -H(Y | Z) of target labels Y given source labels Z.

    -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z) from the empirical joint of the two labellings
    (Tran et al., "Transferability and hardness of supervised classification tasks", ICCV 2019).
    It is 0 when Z determines Y and -H(Y) when they are independent.

    Parameters
    ----------
    source_labels : array-like of int, shape (n_samples,)
        Classes the source assigns (e.g. the argmax of its predictions).
    labels : array-like of int, shape (n_samples,)
        Target classes, at least two.

    Returns
    -------
    float
    """
    _, source_classes = np.unique(_checked_integers(source_labels, 'source_labels'), return_inverse=True)
    classes = _target_classes(labels, len(source_classes), 'source_labels')
    joint = _one_hot(classes).T @ _one_hot(source_classes) / len(classes)
    conditional = _conditional_distribution(joint)
    present = joint > 0
    return float(np.sum(joint[present] * np.log(conditional[present])))


# =================================================================================== ranking
RankedScore = namedtuple('RankedScore', ['name', 'dimension', 'score'])
RankedScore.__doc__ = 'A scored layer (or source): its name, its output dimension and its score.'


class TransferabilityRanking:
    """Layers or source networks with their scores, best first.

    Parameters
    ----------
    rows : iterable of RankedScore
        Sorted by score, highest first; ties keep their order.
    method : str
        Name of the score, e.g. ``'logme'``.
    kind : str
        What is ranked: ``'layer'`` or ``'source'``.

    Examples
    --------
    >>> ranking = rank_layers(module, iterator)     # doctest: +SKIP
    >>> ranking[0].name                               # doctest: +SKIP
    'fc1'
    >>> print(ranking.to_markdown())                  # doctest: +SKIP
    """

    def __init__(self, rows, method, kind):
        self.rows = sorted(rows, key=lambda row: -row.score)
        self.method = method
        self.kind = kind

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    @property
    def names(self):
        """Names of the ranked layers (or sources), best first."""
        return [row.name for row in self.rows]

    def to_markdown(self, digits=4):
        """The ranking as a Markdown table: rank, name, dimension and score."""
        lines = ['| rank | {} | dimension | {} |'.format(self.kind, self.method), '|---:|---|---:|---:|']
        lines += ['| {} | {} | {} | {:.{}f} |'.format(rank, row.name, row.dimension, row.score, digits)
                  for rank, row in enumerate(self.rows, start=1)]
        return '\n'.join(lines)

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        return 'TransferabilityRanking(method={!r}, kind={!r}, rows={!r})'.format(self.method, self.kind,
                                                                                  self.rows)


def rank_layers(source_model, data_iterator, layer_names=None, method='logme'):
    """Score how well each layer's features suit the target data, in one pass through the network.

    Parameters
    ----------
    source_model : mx.mod.Module or mx.gluon.HybridBlock
        The trained source network.
    data_iterator : mx.io.DataIter, numpy arrays (X, y) or gluon DataLoader
        Target data with its labels; anything :func:`xfer.data.as_data_iter` accepts.
    layer_names : list of str, optional
        Layers to score. By default every layer of a type in :data:`FEATURE_LAYER_TYPES` except
        the network's last (output) layer.
    method : {'logme', 'h_score'}
        The feature score, :func:`logme` or :func:`h_score`.

    Returns
    -------
    TransferabilityRanking
        One row per layer: name, feature dimension and score, best first.
    """
    handler = ModelHandler(source_model)
    if layer_names is None:
        layer_names = candidate_layers(handler)
    _score_function(method, _FEATURE_SCORES, 'rank_sources')  # a bad method fails before the costly pass
    features, labels = handler.get_layer_output(data_iterator, layer_names)
    return rank_features(features, labels, method)


def rank_features(features_by_layer, labels, method='logme'):
    """Rank features already extracted: a dict of layer name to ``(n, D)`` array, scored against ``labels``.

    This is :func:`rank_layers` without the extraction, for callers that keep the features.
    """
    score = _score_function(method, _FEATURE_SCORES, 'rank_sources')
    labels = _required_labels(labels)
    rows = [RankedScore(name, output.shape[1], score(output, labels)) for name, output in features_by_layer.items()]
    return TransferabilityRanking(rows, method, 'layer')


def rank_sources(source_models, data_iterator, method='leep'):
    """Score how well each source network's predictions suit the target data.

    Each source's output layer is taken as its class probabilities; an output that is not a
    softmax (e.g. the logits of a Gluon network) is passed through one first.

    Parameters
    ----------
    source_models : dict of str to (mx.mod.Module or mx.gluon.HybridBlock)
        The candidate source networks by name.
    data_iterator : mx.io.DataIter, numpy arrays (X, y) or gluon DataLoader
        Target data with its labels; anything :func:`xfer.data.as_data_iter` accepts.
    method : {'leep', 'nce'}
        :func:`leep` on the probabilities, or :func:`nce` on their argmax.

    Returns
    -------
    TransferabilityRanking
        One row per source: name, number of source classes and score, best first.
    """
    score = _score_function(method, _PREDICTION_SCORES, 'rank_layers')
    if not isinstance(source_models, dict):
        raise TypeError('source_models must be a dict of name to source model, got {}'.format(
            type(source_models).__name__))
    if not source_models:
        raise ValueError('source_models is empty: give at least one source model')
    data_iterator = as_data_iter(data_iterator)  # once, not once per source
    rows = []
    for name, model in source_models.items():
        probabilities, labels = _source_predictions(ModelHandler(model), data_iterator)
        rows.append(RankedScore(name, probabilities.shape[1], score(probabilities, labels)))
    return TransferabilityRanking(rows, method, 'source')


def plot_layer_ranking(ranking, ax=None):
    """Horizontal bar chart of a ranking's scores, best at the top.

    Parameters
    ----------
    ranking : TransferabilityRanking
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(ranking, TransferabilityRanking):
        raise TypeError('ranking must be a TransferabilityRanking, got {}'.format(type(ranking).__name__))
    if ax is None:
        import matplotlib.pyplot as plt  # imported here: pyplot is slow to import
        _, ax = plt.subplots(figsize=(6, 1 + 0.35 * len(ranking)))
    positions = np.arange(len(ranking))
    ax.barh(positions, [row.score for row in ranking])
    ax.set_yticks(positions)
    ax.set_yticklabels(['{} ({})'.format(row.name, row.dimension) for row in ranking])
    ax.invert_yaxis()
    ax.set_xlabel('{} score'.format(ranking.method))
    ax.set_title('Transferability of each {}'.format(ranking.kind))
    return ax


# ============================================================================== LogME helpers
def _gram_spectrum(features, targets):
    """Non-zero eigenvalues s of F^T F and the targets' coordinates U^T Y along F's left singular vectors.

    Eigendecomposes the smaller of F F^T (= U S U^T) and F^T F (= V S V^T, then U^T Y =
    S^-1/2 V^T F^T Y). Eigenvalues below the Gram matrix's rounding level count as zero.
    """
    rows, columns = features.shape
    if rows <= columns:
        eigenvalues, left_vectors = np.linalg.eigh(features @ features.T)
        kept = _above_rounding_level(eigenvalues, features.shape)
        return eigenvalues[kept], left_vectors[:, kept].T @ targets
    eigenvalues, right_vectors = np.linalg.eigh(features.T @ features)
    kept = _above_rounding_level(eigenvalues, features.shape)
    eigenvalues = eigenvalues[kept]
    projections = right_vectors[:, kept].T @ (features.T @ targets) / np.sqrt(eigenvalues)[:, None]
    return eigenvalues, projections


def _above_rounding_level(eigenvalues, shape):
    return eigenvalues > eigenvalues.max(initial=0) * max(shape) * np.finfo(float).eps


def _maximised_log_evidence(eigenvalues, squared_projections, target_norms, sample_count):
    """Per target column y, max over alpha, beta of the log evidence (vectorised over columns).

    ``squared_projections`` (rank x columns) are z^2 = (U^T y)^2; the part of ||y||^2 outside
    the features' span is ``target_norms`` minus their sum. See :func:`_profile_log_evidence`.
    """
    outside_span = np.maximum(target_norms - squared_projections.sum(axis=0), 0)
    profile = functools.partial(_profile_log_evidence, eigenvalues=eigenvalues[:, None],
                                squared_projections=squared_projections, outside_span=outside_span,
                                sample_count=sample_count)
    scale = np.log(eigenvalues.max()) if eigenvalues.size else 0.0
    grid = scale + np.log(10) * np.linspace(*_RATIO_DECADES, _RATIO_GRID_POINTS)
    grid_values = profile(np.repeat(grid[:, None], len(target_norms), axis=1))
    best = np.argmax(grid_values, axis=0)
    lower = grid[np.maximum(best - 1, 0)]
    upper = grid[np.minimum(best + 1, len(grid) - 1)]
    return np.maximum(grid_values.max(axis=0), _golden_section_maximum(profile, lower, upper))


def _profile_log_evidence(log_ratio, eigenvalues, squared_projections, outside_span, sample_count):
    """The log evidence maximised over beta for t = alpha / beta = exp(``log_ratio``), per column.

    The best beta is n / E(t) with E(t) = ||F m - y||^2 + t ||m||^2 = ||y outside span||^2
    + sum z_i^2 t / (t + s_i), which leaves
    L(t) = n/2 log(n / E(t)) - n/2 (1 + log 2 pi) + r/2 log t - 1/2 sum_i log(t + s_i)
    (r: rank; the D - r null directions of F cancel). ``log_ratio`` has shape (..., columns).
    """
    ratio = np.exp(log_ratio)[..., None, :]
    fit_error = outside_span + np.sum(squared_projections * ratio / (ratio + eigenvalues), axis=-2)
    return 0.5 * (sample_count * np.log(sample_count / fit_error) - sample_count * (1 + np.log(2 * np.pi))
                  + len(eigenvalues) * log_ratio - np.sum(np.log(ratio + eigenvalues), axis=-2))


def _golden_section_maximum(function, lower, upper):
    """Maximum of ``function`` per column on [lower, upper] (arrays), by golden-section search."""
    shrink = (np.sqrt(5) - 1) / 2
    left, right = upper - shrink * (upper - lower), lower + shrink * (upper - lower)
    left_value, right_value = function(left), function(right)
    for _ in range(_GOLDEN_SECTION_STEPS):
        keep_left = left_value >= right_value
        lower, upper = np.where(keep_left, lower, left), np.where(keep_left, right, upper)
        new_point = np.where(keep_left, upper - shrink * (upper - lower), lower + shrink * (upper - lower))
        new_value = function(new_point)
        left, right = np.where(keep_left, new_point, right), np.where(keep_left, left, new_point)
        left_value, right_value = (np.where(keep_left, new_value, right_value),
                                   np.where(keep_left, left_value, new_value))
    return np.maximum(left_value, right_value)


# ============================================================================ H-score helpers
def _class_mean_mahalanobis(centred, averaging, ridge):
    """Per column a of ``averaging``, m^T (cov + ridge I)^-1 m, m = centred^T a, cov = centred^T centred / n.

    Solved in the smaller of the D x D covariance and the n x n Gram matrix; in the latter,
    m^T (cov + ridge I)^-1 m = n (a^T a - ridge a^T (K / n + ridge I)^-1 a), K = centred centred^T.
    """
    rows, columns = centred.shape
    if rows >= columns:
        means = centred.T @ averaging
        covariance = centred.T @ centred / rows + ridge * np.eye(columns)
        return np.sum(means * scipy.linalg.solve(covariance, means, assume_a='pos'), axis=0)
    gram = centred @ centred.T / rows + ridge * np.eye(rows)
    solved = scipy.linalg.solve(gram, averaging, assume_a='pos')
    return rows * (np.sum(averaging ** 2, axis=0) - ridge * np.sum(averaging * solved, axis=0))


# ========================================================================= shared helpers
def _conditional_distribution(joint):
    """P(y | z) = P(y, z) / P(z) from a (target x source) joint; zero where P(z) = 0."""
    marginal = joint.sum(axis=0, keepdims=True)
    return np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)


def _one_hot(classes):
    """(n, C) indicator matrix of class indices 0..C-1."""
    return np.eye(classes.max() + 1)[classes]


def candidate_layers(handler, skip_superseded=False):
    """The layers worth ranking: those of the feature types, the network's last (output) layer excluded.

    With ``skip_superseded``, a layer is left out when its output only ever reaches, through
    element-wise layers and reshapes, a pooling layer (which summarises it) or a concatenation
    (which holds it beside its sibling branches): that later layer is a candidate too. That is
    how ``feature_layer_names='auto'`` chooses: with few labelled examples LogME tends to prefer
    a large unpooled map over its pooled summary, or one branch over the joined branches, and a
    classifier then does worse on it (``benchmarks/transferability.py``). The layers inside
    residual blocks are left out too (the block output, where the skip connection rejoins,
    stays): it keeps a deep residual network's candidates to a few dozen
    (``ModelHandler.get_layers_inside_residual_blocks``). So are the layers that only BatchNorm
    layers read (``ModelHandler.get_layers_read_only_by_batch_norm``), such as the convolutions of a
    stage's first block: the network only ever uses their outputs normalised, while the raw maps'
    arbitrary channel scales can win LogME and then classify worse than the block outputs
    (``benchmarks/imagenet_transfer.py``).
    """
    below_output = handler.layer_names[:-1]
    candidates = [name for name in below_output if handler.get_layer_type(name) in FEATURE_LAYER_TYPES]
    if skip_superseded:
        left_out = set(handler.get_layers_inside_residual_blocks()) | set(handler.get_layers_read_only_by_batch_norm())
        candidates = [name for name in candidates if name not in left_out and not _superseded(handler, name)]
    if not candidates:
        raise ValueError('The network has no layer of the types {} below its output layer; name the layers to '
                         'score with layer_names. Layers: {}'.format(list(FEATURE_LAYER_TYPES), below_output))
    return candidates


def _superseded(handler, layer_name):
    """Whether every path from the layer's output meets a pooling or concatenation, passing only value-keeping layers."""
    readers = handler.get_layers_reading(layer_name)
    return bool(readers) and all(
        handler.get_layer_type(reader) in _SUPERSEDING_TYPES
        or (handler.get_layer_type(reader) in _PASS_THROUGH_TYPES and _superseded(handler, reader))
        for reader in readers)


def _source_predictions(handler, data_iterator):
    """The source's class probabilities for the data (a softmax applied to non-softmax outputs) and the labels."""
    output_layer = handler.layer_names[-1]
    outputs, labels = handler.get_layer_output(data_iterator, [output_layer])
    probabilities = outputs[output_layer].astype(float)
    if handler.get_layer_type(output_layer) not in PROBABILITY_LAYER_TYPES:
        probabilities = scipy.special.softmax(probabilities, axis=1)
    return probabilities, _required_labels(labels)


def _required_labels(labels):
    if labels is None:
        raise ValueError('The data iterator provides no labels; transferability needs the target labels')
    return labels


def _predicted_classes_nce(probabilities, labels):
    """NCE of the target labels given the source's most probable classes."""
    return nce(np.argmax(probabilities, axis=1), labels)


_FEATURE_SCORES = {'logme': logme, 'h_score': h_score}
_PREDICTION_SCORES = {'leep': leep, 'nce': _predicted_classes_nce}


def _score_function(method, scores, other_function):
    if method not in scores:
        raise ValueError('method must be one of {}, got {!r} (other scores are for {})'.format(
            sorted(scores), method, other_function))
    return scores[method]


# ============================================================================ validation
def _checked_features(features):
    """``features`` as a float64 (n, D) array after checking it is real, 2-D, finite and has >= 2 rows."""
    features = _real_array(features, 'features')
    if features.ndim != 2:
        raise ValueError('features must be 2-D (n_samples, n_features), got shape {}'.format(features.shape))
    if features.shape[0] < 2 or features.shape[1] < 1:
        raise ValueError('features need at least 2 samples and 1 feature, got shape {}'.format(features.shape))
    check_finite(features, 'features')
    return features


def _checked_probabilities(probabilities):
    """``probabilities`` as a float64 (n, Z) array of non-negative rows summing to 1."""
    probabilities = _real_array(probabilities, 'source_probabilities')
    if probabilities.ndim != 2 or 0 in probabilities.shape:
        raise ValueError('source_probabilities must be 2-D (n_samples, n_source_classes) and non-empty, got '
                         'shape {}'.format(probabilities.shape))
    check_finite(probabilities, 'source_probabilities')
    if np.any(probabilities < 0):
        row, column = np.argwhere(probabilities < 0)[0]
        raise ValueError('source_probabilities must be >= 0, got {} at row {}, column {}'.format(
            probabilities[row, column], row, column))
    row_sums = probabilities.sum(axis=1)
    off = np.flatnonzero(np.abs(row_sums - 1) > _PROBABILITY_SUM_TOLERANCE)
    if off.size:
        raise ValueError('Each row of source_probabilities must sum to 1 (softmax outputs); row {} sums to '
                         '{:.6g} ({} such rows)'.format(off[0], row_sums[off[0]], off.size))
    return probabilities


def _target_classes(labels, sample_count, rows_name='features'):
    """Target labels as class indices 0..C-1, after checking them and that there are >= 2 classes."""
    labels = _checked_integers(labels, 'labels')
    if len(labels) != sample_count:
        raise ValueError('labels has {} entries but {} has {} rows; they must match'.format(
            len(labels), rows_name, sample_count))
    values, classes = np.unique(labels, return_inverse=True)
    if len(values) < 2:
        raise ValueError('labels must contain at least 2 classes, got only {}'.format(values.tolist()))
    return classes


def _checked_integers(values, name):
    """``values`` as a non-empty 1-D integer array."""
    array = np.asarray(values)
    if array.dtype.kind not in 'iu':
        raise TypeError('{} must hold integer class ids, got dtype {}'.format(name, array.dtype))
    if array.ndim != 1 or array.size == 0:
        raise ValueError('{} must be a non-empty 1-D array, got shape {}'.format(name, array.shape))
    return array


def _real_array(values, name):
    array = np.asarray(values)
    if array.dtype.kind not in 'biuf':
        raise TypeError('{} must hold real numbers, got dtype {}'.format(name, array.dtype))
    return array.astype(float)

