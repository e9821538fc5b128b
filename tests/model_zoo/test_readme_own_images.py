"""The README's "Your own images" code runs as printed, on a small image folder and numpy arrays."""
import os
import re

import numpy as np
import pytest
from PIL import Image

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'README.md')


def own_images_code():
    with open(README) as readme:
        text = readme.read()
    section = text.split('## Your own images', 1)[1]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def write_photos(root, rng):
    """Two classes told apart by colour: 'red' and 'blue' squares with noise, 4 per class."""
    for name, channel in (('blue', 2), ('red', 0)):
        os.makedirs(os.path.join(root, name))
        for number in range(4):
            pixels = rng.integers(0, 80, (40, 40, 3)).astype(np.uint8)
            pixels[..., channel] = 230
            Image.fromarray(pixels).save(os.path.join(root, name, '{}.png'.format(number)))


@pytest.mark.slow
def test_your_own_images_section_runs(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    write_photos(str(tmp_path / 'photos' / 'train'), rng)
    write_photos(str(tmp_path / 'photos' / 'test'), rng)
    images = rng.integers(0, 80, (6, 3, 64, 64)).astype(np.float32)
    labels = np.arange(6) % 2
    images[labels == 1, 1] = 230
    np.save(str(tmp_path / 'images.npy'), images)
    np.save(str(tmp_path / 'labels.npy'), labels)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(own_images_code(), README, 'exec'), namespace)
    assert namespace['predicted'] == ['blue'] * 4 + ['red'] * 4
    assert namespace['probabilities'].shape == (6, 2)
    np.testing.assert_array_equal(namespace['probabilities'].argmax(axis=1), labels)
