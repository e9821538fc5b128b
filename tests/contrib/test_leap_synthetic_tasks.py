"""Seeded synthetic task families: reproducible from the seed alone, shaped as documented."""
import mxnet as mx
import numpy as np
import pytest

from xfer.contrib.xfer_leap import image_class_tasks, sinusoid_tasks, split_task


def test_sinusoid_tasks_depend_on_the_seed_only():
    mx.random.seed(1)
    first = sinusoid_tasks(3, num_points=5, seed=7)
    mx.random.seed(2)
    np.random.seed(2)
    second = sinusoid_tasks(3, num_points=5, seed=7)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert first[0][0].shape == (5, 1) and first[0][1].dtype == np.float32
    assert not np.allclose(first[0][1], sinusoid_tasks(3, num_points=5, seed=8)[0][1])
    assert np.abs(np.concatenate([y for _, y in first])).max() <= 5.0


def test_image_class_tasks_permute_labels_and_interleave_classes():
    labels = np.repeat(np.arange(10), 20)
    images = labels[:, None].astype(np.float32) * np.ones((1, 3), np.float32)  # each image shows its class
    tasks = image_class_tasks(images, labels, num_tasks=20, num_ways=5, num_per_class=4, classes=range(6), seed=3)
    mappings = set()
    for features, task_labels in tasks:
        assert features.shape == (20, 3)
        np.testing.assert_array_equal(task_labels[:5], np.arange(5))
        original = features[:, 0].astype(int)
        assert set(original) <= set(range(6))
        mapping = {int(o): int(t) for o, t in zip(original, task_labels)}
        assert len(mapping) == 5  # one task label per source class, consistent across the task
        mappings.add(tuple(sorted(mapping.items())))
    assert len(mappings) > 1


def test_image_class_tasks_bad_arguments():
    labels = np.repeat(np.arange(3), 4)
    images = np.zeros((12, 2), np.float32)
    with pytest.raises(ValueError, match='num_ways must be between 2 and the 3 classes available, got 4'):
        image_class_tasks(images, labels, 1, num_ways=4, num_per_class=2)
    with pytest.raises(ValueError, match='fewer than num_per_class=5'):
        image_class_tasks(images, labels, 1, num_ways=2, num_per_class=5)
    with pytest.raises(ValueError, match=r'classes \[7\] do not occur in labels'):
        image_class_tasks(images, labels, 1, num_ways=2, num_per_class=2, classes=[0, 7])
    with pytest.raises(ValueError, match='num_tasks must be an integer of at least 1, got 0'):
        sinusoid_tasks(0)


def test_split_task():
    task = sinusoid_tasks(1, num_points=10, seed=0)[0]
    (train_x, train_y), (test_x, test_y) = split_task(task, 4)
    assert train_x.shape == (4, 1) and test_y.shape == (6, 1)
    np.testing.assert_array_equal(np.concatenate([train_x, test_x]), task[0])
    with pytest.raises(ValueError, match='num_train must be between 1 and 9'):
        split_task(task, 10)
