"""Saved files edited by a careless or hostile hand: each is refused with the file and the reason named."""
import io
import json
import os
import shutil
import zipfile

import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer.serialization import SavedFileError
from tests.conftest import load_source_module
from tests.saved_files import companion, reseal

CLASSES = [3, 8]


@pytest.fixture(scope='module')
def task(mnist_digits):
    images, labels = mnist_digits
    keep = np.isin(labels, CLASSES)
    return images[keep][:30], (labels[keep][:30] == CLASSES[1]).astype(np.int64)


def _iterator(images, labels=None):
    return mx.io.NDArrayIter(images, labels, batch_size=10, label_name='softmax_label')


@pytest.fixture(scope='module')
def saves(task, tmp_path_factory):
    """An LR, a GP and a fine-tuned network saved once; each test works on a copy."""
    directory = tmp_path_factory.mktemp('saves')
    source = load_source_module('lenet_mnist04')
    for name, repurposer in [('lr', xfer.LrRepurposer(source, ['fc1'])),
                             ('gp', xfer.GpRepurposer(source, ['fc1'], max_function_evaluations=3)),
                             ('ft', xfer.NeuralNetworkFineTuneRepurposer(source, 'fc1', 2, num_epochs=1))]:
        repurposer.repurpose(_iterator(*task))
        repurposer.save_repurposer(name, str(directory))
    return directory


@pytest.fixture
def saved(saves, tmp_path):
    for name in os.listdir(saves):
        shutil.copy(saves / name, tmp_path / name)
    return tmp_path


def _edit_json(path, edit):
    with open(path) as json_file:
        content = json.load(json_file)
    edit(content)
    with open(path, 'w') as json_file:
        json.dump(content, json_file)


def _load(saved, name='lr', **kwargs):
    return xfer.load(name, str(saved), **kwargs)


# --- JSON ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('text, reason', [
    ('[' * 100000, 'nested too deeply'),
    ('', r'the file is empty \(0 bytes\)'),
    ('{"repurposer_class": "LrRep', r'not valid JSON \(truncated or edited\?\)'),
])
def test_broken_json_is_refused_with_the_reason(saved, text, reason):
    (saved / 'lr.json').write_text(text)
    with pytest.raises(SavedFileError, match='lr.json: .*' + reason):
        _load(saved)


@pytest.mark.parametrize('edit, reason', [
    (lambda content: content['target_model']['coef_']['array'].update(
        data=[float('nan')] * len(content['target_model']['coef_']['array']['data'])), "'coef_' holds NaN"),
    (lambda content: content['target_model']['classes_']['array'].update(data=['cat', 'dog']),
     "'classes_' holds values that are not numbers"),
    (lambda content: content['parameters'].update(c='abc'), "c='abc'; it should be finite number > 0"),
    (lambda content: content['parameters'].update(c=-1.0), "c=-1.0; it should be finite number > 0"),
    (lambda content: content['parameters'].update(tol=True), 'tol=True'),
    (lambda content: content['parameters'].update(n_jobs=1.5), "n_jobs=1.5; it should be int"),
    (lambda content: content['parameters'].update(num_devices=0), "num_devices=0; it should be int >= 1"),
    (lambda content: content.update(source_fingerprint={'graph_sha256': 1}), "'source_fingerprint' should hold"),
    (lambda content: content.update(source_fingerprint=[]), "'source_fingerprint' should hold"),
    (lambda content: content.update(provide_data=[['data', [10, 1.5]]]), "'provide_data' should be a list of"),
])
def test_tampered_lr_values_are_refused(saved, edit, reason):
    _edit_json(saved / 'lr.json', edit)
    with pytest.raises(SavedFileError, match='lr.json: .*' + reason):
        _load(saved)


@pytest.mark.parametrize('edit, reason', [
    (lambda content: content['target_model'].update(history='garbage'), "'history' should be of type dict"),
    (lambda content: content['target_model'].update(history={'acc': 'high'}), "'history' should map names"),
    (lambda content: content['target_model'].update(best_epoch='last'), "'best_epoch' should be of type int"),
    (lambda content: content['parameters'].update(optimizer_params='fast'), 'optimizer_params='),
    (lambda content: content['parameters'].update(num_epochs=-1), 'num_epochs=-1'),
])
def test_tampered_network_values_are_refused(saved, edit, reason):
    _edit_json(saved / 'ft.json', edit)
    with pytest.raises(SavedFileError, match='ft.json: .*' + reason):
        _load(saved, 'ft', source_model=load_source_module('lenet_mnist04'))


# --- .npz ------------------------------------------------------------------------------------------------------
def _npz_members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_npz_members(path, members):
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy_bytes(shape, dtype, payload):
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {'descr': np.dtype(dtype).str, 'fortran_order': False,
                                                  'shape': shape})
    return stream.getvalue() + payload


def _gp_npz(saved):
    return companion(str(saved / 'gp.json'), '_gp.npz')


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(saved):
    path = _gp_npz(saved)
    members = _npz_members(path)
    members['classes.npy'] = _npy_bytes((10 ** 14,), '<f8', b'\0' * 16)  # 728 TiB declared, 16 bytes held
    _write_npz_members(path, members)
    reseal(str(saved / 'gp.json'))
    with pytest.raises(SavedFileError, match=r"_gp.npz: the header of 'classes' declares shape \(100000000000000,\) "
                                             r"\(800000000000000 bytes\) but the archive holds 16"):
        _load(saved, 'gp')


def test_an_extra_member_is_never_read(saved, monkeypatch):
    path = _gp_npz(saved)
    members = _npz_members(path)
    members['extra.npy'] = b'this is not an array at all'
    _write_npz_members(path, members)
    reseal(str(saved / 'gp.json'))
    opened = []
    original_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, 'open', lambda self, name, *args, **kwargs: opened.append(
        getattr(name, 'filename', name)) or original_open(self, name, *args, **kwargs))
    assert isinstance(_load(saved, 'gp'), xfer.GpRepurposer)
    assert 'extra.npy' not in opened and 'classes.npy' in opened


@pytest.mark.parametrize('cut, reason', [(0, r'the file is empty \(0 bytes\)'),
                                         (0.5, r'not a readable .npz file \(truncated or edited\?\)')])
def test_a_truncated_npz_is_refused_with_the_reason(saved, cut, reason):
    path = _gp_npz(saved)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:int(len(data) * cut)])
    reseal(str(saved / 'gp.json'))
    with pytest.raises(SavedFileError, match='_gp.npz: ' + reason) as raised:
        _load(saved, 'gp')
    assert raised.value.path == path


def test_an_object_array_is_refused(saved):
    path = _gp_npz(saved)
    members = _npz_members(path)
    members['classes.npy'] = _npy_bytes((2,), '|O', b'\0' * 16)
    _write_npz_members(path, members)
    reseal(str(saved / 'gp.json'))
    with pytest.raises(SavedFileError, match="'classes' has dtype object, not a numeric one"):
        _load(saved, 'gp')


# --- another source -------------------------------------------------------------------------------------------
def test_loading_onto_another_source_is_an_error_unless_asked(saved, task):
    other = load_source_module('lenet_mnist04')  # unbound: its params are the ones stored in it
    other._arg_params['fc1_weight'] = other._arg_params['fc1_weight'] * 1.01
    with pytest.raises(SavedFileError, match=r"lr.json: the source_model given differs from the source this "
                                             r"repurposer was trained with: the params' values differ\. Pass "
                                             r"check_source=False"):
        _load(saved, source_model=other)
    with pytest.raises(SavedFileError, match='the graph .* differs; params .* differ in shape'):
        _load(saved, source_model=load_source_module('mlp_mnist04'))
    loaded = _load(saved, source_model=other, check_source=False)
    assert loaded.predict_label(_iterator(task[0])).shape == (len(task[1]),)


def test_a_swapped_source_file_pair_is_caught(saved):
    """Both source files replaced (and the checksums re-recorded): the fingerprint still tells."""
    mlp = os.path.join(os.path.dirname(__file__), '..', 'data', 'models', 'mlp_mnist04')
    for suffix in ('-symbol.json', '-0000.params'):
        shutil.copy(mlp + suffix, companion(str(saved / 'lr.json'), '_source' + suffix))
    reseal(str(saved / 'lr.json'))
    with pytest.raises(SavedFileError, match='lr.json: the saved source model differs from the source this '
                                             'repurposer was trained with'):
        _load(saved)
