"""Seeded families of related tasks for meta-learning: sinusoid regression and image class subsets.

Every task is a numpy ``(X, y)`` pair, drawn from numpy's generator with the given seed only,
so the same seed gives the same tasks whatever MXNet's random state.
"""
import numpy as np

from ...data import datasets
from ...validation import check_integer


def sinusoid_tasks(num_tasks, num_points=10, amplitude_range=(0.1, 5.0), phase_range=(0.0, np.pi),
                   x_range=(-5.0, 5.0), seed=None):
    """Regression tasks ``y = a sin(x + b)``, each with its own amplitude ``a`` and phase ``b``.

    Parameters
    ----------
    num_tasks : int
    num_points : int
        Points per task, ``x`` uniform in ``x_range``; split them with :func:`split_task`.
    amplitude_range, phase_range, x_range : tuple of float
        Uniform ranges of ``a``, ``b`` and ``x``.
    seed : int or None

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        float32 ``X`` and ``y``, both of shape (num_points, 1).
    """
    check_integer('num_tasks', num_tasks)
    check_integer('num_points', num_points)
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(num_tasks):
        amplitude, phase = rng.uniform(*amplitude_range), rng.uniform(*phase_range)
        inputs = rng.uniform(*x_range, size=(num_points, 1))
        tasks.append((inputs.astype(np.float32), (amplitude * np.sin(inputs + phase)).astype(np.float32)))
    return tasks


def image_class_tasks(images, labels, num_tasks, num_ways=5, num_per_class=10, classes=None, seed=None):
    """Classification tasks over ``num_ways`` classes drawn from ``classes``, their labels permuted.

    Each task picks ``num_ways`` distinct classes and gives them the labels 0 .. num_ways - 1 in a
    random order, so no class keeps one label across tasks: what transfers is how to learn, not
    a fixed read-out. Rows are interleaved by class (one of each class, then the next one of each),
    so the first ``k * num_ways`` rows hold ``k`` examples of every class.

    Parameters
    ----------
    images : numpy.ndarray
        Examples, first axis indexing them (e.g. from :func:`xfer.data.datasets.load_mnist_5k`).
    labels : numpy.ndarray of int
    num_tasks, num_ways, num_per_class : int
    classes : iterable of int or None
        Classes to draw from (keep some out for held-out tasks); None: every class in ``labels``.
    seed : int or None

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        float32 ``X`` of shape (num_ways * num_per_class, ...) and float32 labels in [0, num_ways).
    """
    check_integer('num_tasks', num_tasks)
    check_integer('num_per_class', num_per_class)
    labels = np.asarray(labels)
    classes = np.unique(labels) if classes is None else np.asarray(list(classes))
    selected = datasets.split_by_class(labels, classes)
    if not 2 <= num_ways <= len(classes):
        raise ValueError('num_ways must be between 2 and the {} classes available, got {}'.format(
            len(classes), num_ways))
    pools = {label: np.flatnonzero(selected & (labels == label)) for label in classes}
    short = [label for label, pool in pools.items() if len(pool) < num_per_class]
    if short:
        raise ValueError('classes {} have fewer than num_per_class={} examples'.format(short, num_per_class))
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(num_tasks):
        chosen = rng.choice(classes, size=num_ways, replace=False)
        rows = np.stack([rng.choice(pools[label], size=num_per_class, replace=False) for label in chosen], axis=1)
        task_labels = np.tile(np.arange(num_ways), num_per_class)
        tasks.append((images[rows.ravel()].astype(np.float32), task_labels.astype(np.float32)))
    return tasks


def split_task(task, num_train):
    """Split a ``(X, y)`` task into its first ``num_train`` rows (training) and the rest (test)."""
    features, targets = task
    if not 0 < num_train < len(features):
        raise ValueError('num_train must be between 1 and {} (the task has {} rows), got {}'.format(
            len(features) - 1, len(features), num_train))
    return (features[:num_train], targets[:num_train]), (features[num_train:], targets[num_train:])

