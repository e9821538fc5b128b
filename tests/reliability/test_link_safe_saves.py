"""Saving never writes through a symlink, never overwrites another save's files, and cleans up after itself."""
import os
import platform
import subprocess

import mxnet as mx
import numpy as np
import pytest

import xfer
from tests.conftest import load_source_module
from tests.saved_files import companion_names

CLASSES = [3, 8]


@pytest.fixture(scope='module')
def fitted(mnist_digits):
    images, labels = mnist_digits
    keep = np.isin(labels, CLASSES)
    images, labels = images[keep][:30], (labels[keep][:30] == CLASSES[1]).astype(np.int64)
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(load_source_module('lenet_mnist04'), 'fc1', 2, num_epochs=1)
    repurposer.repurpose(mx.io.NDArrayIter(images, labels, batch_size=10, label_name='softmax_label'))
    return repurposer, images


def _predictions(repurposer, images):
    return repurposer.predict_probability(mx.io.NDArrayIter(images, batch_size=10))


def test_symlinks_at_the_fixed_names_and_the_json_are_not_written_through(fitted, tmp_path):
    repurposer, images = fitted
    other_dir, model_dir = tmp_path / 'other', tmp_path / 'mine'
    repurposer.save_repurposer('victim', str(other_dir), save_source_model=True)
    victim_files = {name: (other_dir / name).read_bytes() for name in os.listdir(other_dir)}
    model_dir.mkdir()
    for name in victim_files:  # every name xfer or Xfer 1.1 could write for 'model' points into the other save
        (model_dir / name.replace('victim', 'model', 1)).symlink_to(other_dir / name)
    for suffix in ('-symbol.json', '-0000.params', '_source-symbol.json', '_source-0000.params'):
        (model_dir / ('model' + suffix)).symlink_to(other_dir / 'victim.json')

    repurposer.save_repurposer('model', str(model_dir), save_source_model=True)

    assert {name: (other_dir / name).read_bytes() for name in os.listdir(other_dir)} == victim_files
    assert not os.path.islink(model_dir / 'model.json'), 'the symlink at the JSON path is replaced, not followed'
    np.testing.assert_array_equal(_predictions(xfer.load('model', str(model_dir)), images),
                                  _predictions(repurposer, images))
    np.testing.assert_array_equal(_predictions(xfer.load('victim', str(other_dir)), images),
                                  _predictions(repurposer, images))


def test_saving_again_replaces_the_companions_and_leaves_no_temporary_files(fitted, tmp_path):
    repurposer, _ = fitted
    for _ in range(3):
        repurposer.save_repurposer('model', str(tmp_path))
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 1 + len(companion_names(str(tmp_path / 'model.json'))) == 3, names


def test_an_unrelated_file_whose_name_starts_like_the_model_is_kept(fitted, tmp_path):
    repurposer, _ = fitted
    (tmp_path / 'model.notes.txt').write_text('mine')
    (tmp_path / 'model-symbol.json').write_text('a checkpoint of mine')
    repurposer.save_repurposer('model', str(tmp_path))
    repurposer.save_repurposer('model', str(tmp_path))
    assert (tmp_path / 'model.notes.txt').read_text() == 'mine'
    assert (tmp_path / 'model-symbol.json').read_text() == 'a checkpoint of mine'


def test_saving_into_a_missing_folder_names_it(fitted, tmp_path):
    repurposer, _ = fitted
    with pytest.raises(FileNotFoundError, match=r'Cannot save .*model.json: the directory .*missing does not exist'):
        repurposer.save_repurposer(os.path.join('missing', 'model'), str(tmp_path))
    repurposer.save_repurposer('model', str(tmp_path / 'made' / 'for' / 'it'))  # model_directory is created
    assert os.path.isfile(tmp_path / 'made' / 'for' / 'it' / 'model.json')


def test_a_concurrent_save_keeps_its_files_and_a_killed_one_is_tidied(fitted, tmp_path):
    """Another live save of the same name is mid-way (its companion linked, its staging folder alive): its file
    stays. A killed save (its process gone) left a staging folder and an orphan companion: both go."""
    repurposer, _ = fitted
    host = platform.node() or 'host'
    finished = subprocess.Popen(['true'])
    finished.wait()
    saves = {'live': (os.getpid(), 'model.{}-0000.params'.format('a' * 16)),
             'killed': (finished.pid, 'model.{}-0000.params'.format('b' * 16))}
    for kind, (pid, companion_name) in saves.items():
        staging = tmp_path / '.xfer-save-model.{}.{}.x{}'.format(host, pid, kind)
        staging.mkdir()
        (staging / companion_name).write_text(kind)
        os.link(staging / companion_name, tmp_path / companion_name)
    repurposer.save_repurposer('model', str(tmp_path))
    names = os.listdir(tmp_path)
    assert saves['live'][1] in names and '.xfer-save-model.{}.{}.xlive'.format(host, os.getpid()) in names
    assert saves['killed'][1] not in names and not any('xkilled' in name for name in names)
