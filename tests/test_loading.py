"""xfer.load on tampered, truncated and incomplete files: clear errors naming the file, no code run."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer.serialization import SavedFileError, decode_array, encode_array
from tests.saved_files import companion


@pytest.fixture(scope='module')
def saved_dir(tmp_path_factory, mnist_digits):
    """An LR repurposer saved with its source; each test edits a fresh copy of its JSON."""
    from tests.conftest import load_source_module
    images, labels = mnist_digits
    repurposer = xfer.LrRepurposer(load_source_module('lenet_mnist04'), ['fc1'])
    repurposer.repurpose(mx.io.NDArrayIter(images[:100], labels[:100], batch_size=20, label_name='softmax_label'))
    directory = tmp_path_factory.mktemp('saved')
    repurposer.save_repurposer('lr', str(directory))
    return directory


def _tampered(saved_dir, edit):
    """Write an edited copy of the saved JSON as 'bad.json' (it lists lr's companion files) and return it."""
    content = json.loads((saved_dir / 'lr.json').read_text())
    edit(content)
    (saved_dir / 'bad.json').write_text(json.dumps(content))
    return content


def _load_bad(saved_dir):
    return xfer.load('bad', str(saved_dir))


def test_the_untouched_file_loads(saved_dir):
    assert isinstance(xfer.load('lr', str(saved_dir)), xfer.LrRepurposer)


def test_an_unknown_class_is_rejected_with_the_known_ones(saved_dir):
    _tampered(saved_dir, lambda content: content.update(repurposer_class='PickleRepurposer'))
    with pytest.raises(SavedFileError, match=r"bad.json: unknown repurposer class 'PickleRepurposer'; known "
                                             r"classes are \[.*'LrRepurposer'.*'SvmRepurposer'"):
        _load_bad(saved_dir)


def test_a_class_name_that_is_python_code_is_never_run(saved_dir, tmp_path):
    marker = tmp_path / 'pwned'
    code = "__import__('pathlib').Path('{}').touch() or 'LrRepurposer'".format(marker)
    _tampered(saved_dir, lambda content: content.update(repurposer_class=code))
    with pytest.raises(SavedFileError, match='unknown repurposer class'):
        _load_bad(saved_dir)
    assert not marker.exists()


def test_abstract_classes_cannot_be_loaded(saved_dir):
    _tampered(saved_dir, lambda content: content.update(repurposer_class='MetaModelRepurposer'))
    with pytest.raises(SavedFileError, match='MetaModelRepurposer is abstract'):
        _load_bad(saved_dir)


@pytest.mark.parametrize('key', ['repurposer_class', 'version', 'parameters', 'provide_data', 'target_model'])
def test_a_missing_key_is_named(saved_dir, key):
    _tampered(saved_dir, lambda content: content.pop(key))
    with pytest.raises(SavedFileError, match="bad.json: .*'{}'".format(key)):
        _load_bad(saved_dir)


@pytest.mark.parametrize('key, value, message', [
    ('parameters', ['fc1'], "'parameters' should be of type dict, found list"),
    ('repurposer_class', 7, "'repurposer_class' should be of type str, found int"),
    ('provide_data', [['data']], "'provide_data' should be a list of \\[name, shape\\] pairs"),
    ('target_model', 'weights', 'saved attributes should be a JSON object'),
])
def test_wrong_types_are_named(saved_dir, key, value, message):
    _tampered(saved_dir, lambda content: content.update({key: value}))
    with pytest.raises(SavedFileError, match='bad.json: ' + message):
        _load_bad(saved_dir)


def test_parameters_that_do_not_fit_the_class(saved_dir):
    _tampered(saved_dir, lambda content: content['parameters'].update(learning_rate=0.1))
    with pytest.raises(SavedFileError, match="'parameters' do not fit LrRepurposer.*learning_rate"):
        _load_bad(saved_dir)
    _tampered(saved_dir, lambda content: content['parameters'].update(context_function='tpu'))
    with pytest.raises(SavedFileError, match="Unknown context function name 'tpu'"):
        _load_bad(saved_dir)


def test_arrays_of_the_wrong_shape(saved_dir):
    def shrink_coefficients(content):
        content['target_model']['coef_']['array']['shape'] = [3, 7]
    _tampered(saved_dir, shrink_coefficients)
    with pytest.raises(SavedFileError, match=r"'coef_' holds \d+ values, its shape \[3, 7\] needs 21"):
        _load_bad(saved_dir)

    def transpose_coefficients(content):
        content['target_model']['coef_']['array']['shape'].reverse()
    _tampered(saved_dir, transpose_coefficients)
    with pytest.raises(SavedFileError, match='the saved LogisticRegression does not predict'):
        _load_bad(saved_dir)


def test_arrays_must_hold_numbers(saved_dir):
    def objects(content):
        content['target_model']['coef_']['array']['dtype'] = '|O'
    _tampered(saved_dir, objects)
    with pytest.raises(SavedFileError, match="'coef_' is not a numeric array"):
        _load_bad(saved_dir)


def test_truncated_json(saved_dir):
    text = (saved_dir / 'lr.json').read_text()
    (saved_dir / 'cut.json').write_text(text[:len(text) // 2])
    with pytest.raises(SavedFileError, match=r'cut.json: not valid JSON \(truncated or edited\?\)'):
        xfer.load('cut', str(saved_dir))


def test_a_json_that_is_not_an_object(saved_dir):
    (saved_dir / 'list.json').write_text('[1, 2]')
    with pytest.raises(SavedFileError, match='list.json: expected a JSON object, found list'):
        xfer.load('list', str(saved_dir))


def test_missing_files_are_named(saved_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='Saved file not found: .*nothing.json'):
        xfer.load('nothing', str(saved_dir))
    (tmp_path / 'lonely.json').write_text((saved_dir / 'lr.json').read_text())
    with pytest.raises(FileNotFoundError, match=r'Saved file not found: .*lr\.[0-9a-f]{16}_source-0000.params '
                                                r'\(listed in .*lonely.json\)'):
        xfer.load('lonely', str(tmp_path))


def _legacy_copy(saved_dir, tmp_path, name):
    """The save copied under fixed names, as Xfer 1.1 laid it out (no list of companions)."""
    content = json.loads((saved_dir / 'lr.json').read_text())
    del content['companion_files']
    (tmp_path / (name + '.json')).write_text(json.dumps(content))
    for suffix in ('-symbol.json', '-0000.params'):
        (tmp_path / (name + '_source' + suffix)).write_bytes(
            open(companion(str(saved_dir / 'lr.json'), '_source' + suffix), 'rb').read())


@pytest.mark.parametrize('content, reason', [(b'not params', 'params cannot be read: Invalid NDArray file format'),
                                             (b'', r'the file is empty \(0 bytes\)')])
def test_unreadable_source_params_are_named_with_the_reason(saved_dir, tmp_path, content, reason):
    _legacy_copy(saved_dir, tmp_path, 'old')
    (tmp_path / 'old_source-0000.params').write_bytes(content)
    with pytest.raises(SavedFileError, match='old_source-0000.params: ' + reason) as raised:
        xfer.load('old', str(tmp_path))
    assert 'Traceback' not in str(raised.value)


def test_a_source_network_that_is_not_json_is_named(saved_dir, tmp_path):
    _legacy_copy(saved_dir, tmp_path, 'old')
    (tmp_path / 'old_source-symbol.json').write_bytes(b'\xff\xfe binary')
    with pytest.raises(SavedFileError, match='old_source-symbol.json: not valid JSON.*not UTF-8'):
        xfer.load('old', str(tmp_path))


def test_an_edited_companion_is_caught_by_its_checksum(saved_dir, tmp_path):
    for name in os.listdir(saved_dir):
        (tmp_path / name).write_bytes((saved_dir / name).read_bytes())
    params = companion(str(tmp_path / 'lr.json'), '_source-0000.params')
    with open(params, 'r+b') as params_file:
        params_file.seek(-4, os.SEEK_END)
        params_file.write(b'\x00\x00\x80\x7f')  # the last weight becomes inf
    with pytest.raises(SavedFileError, match=r'_source-0000.params: its SHA-256 differs from the one lr.json records'):
        xfer.load('lr', str(tmp_path))


def test_a_fixed_name_save_as_xfer_11_wrote_it_still_loads(saved_dir, tmp_path):
    _legacy_copy(saved_dir, tmp_path, 'old')
    assert isinstance(xfer.load('old', str(tmp_path)), xfer.LrRepurposer)


def test_another_version_loads_with_a_warning(saved_dir):
    _tampered(saved_dir, lambda content: content.update(version='1.0.0'))
    with pytest.warns(UserWarning, match=r'bad.json was saved by xfer 1.0.0; this is xfer ' + xfer.__version__):
        assert isinstance(_load_bad(saved_dir), xfer.LrRepurposer)


def test_another_source_model_is_flagged_by_a_file_without_fingerprint(saved_dir, lenet_module):
    _tampered(saved_dir, lambda content: content.update(last_layer_name='fc_other', source_fingerprint=None))
    with pytest.warns(UserWarning, match="source model's last layer is 'softmax' but .* last layer is 'fc_other'"):
        xfer.load('bad', str(saved_dir), source_model=lenet_module)


def test_array_encoding_round_trips_exactly():
    for array in [np.random.default_rng(0).random((3, 4)).astype(np.float32), np.arange(5), np.array(True),
                  np.random.default_rng(1).standard_normal(7)]:
        decoded = decode_array(json.loads(json.dumps(encode_array(array))), 'x.json', 'a')
        assert decoded.dtype == array.dtype
        np.testing.assert_array_equal(decoded, array)


#: The modules allowed to import pickle, each only for a restricted Unpickler with an allow-list:
#: Xfer 1.1's BNN posterior files, and legacy PyTorch weight files of the model zoo.
RESTRICTED_UNPICKLERS = (os.path.join('serialization', 'legacy_pickle.py'),
                         os.path.join('model_zoo', 'torch_legacy_reader.py'))


def test_no_pickle_eval_or_joblib_in_the_library():
    root = os.path.dirname(xfer.__file__)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                text = open(path).read()
                for forbidden in ('joblib', 'eval(', 'allow_pickle=True', 'from_dict(', 'pickle.load(',
                                  'pickle.loads('):
                    assert forbidden not in text, '{} uses {}'.format(name, forbidden)
                if 'import pickle' in text:
                    assert os.path.relpath(path, root) in RESTRICTED_UNPICKLERS, '{} imports pickle'.format(name)
                    assert 'def find_class(self, module, ' in text, '{} unpickles without an allow-list'.format(name)
