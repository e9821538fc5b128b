"""Reading and writing saved repurposers as JSON and ``.npz``, with errors that name the file.

Nothing here executes code from a file: no eval, and no pickle except a restricted unpickler
with an allow-list for the one legacy format that needs it (Xfer 1.1's BNN posterior). Arrays
travel as plain numbers.

A save takes effect at one moment: when its JSON file is renamed into place. Its companion
files (networks, ``.npz`` arrays) are first written under names no earlier save used
(``<name>.<16 hex digits><suffix>``) in a private staging folder, flushed to disk and linked
into the model directory without overwriting anything; the JSON records their names and
SHA-256 checksums. A save killed part-way therefore leaves the previous save loadable, and a
mixed or edited set of files is reported on load. Files written by Xfer 1.1 (fixed names,
no checksums) still load.
"""
import contextlib
import hashlib
import inspect
import json
import os
import platform
import re
import secrets
import shutil
import stat
import tempfile
import warnings
import zipfile
import zlib

import mxnet as mx
import numpy as np

from .model_handler import ModelHandler, naming

_ARRAY_KINDS = 'biuf'  # bool, signed and unsigned ints, floats: the only dtypes a file may ask for
_JSON_SCALARS = (bool, int, float, str, type(None))
#: The JSON key that lists a save's companion files and their checksums.
COMPANIONS_KEY = 'companion_files'
_TOKEN_DIGITS = 16
_STAGING_PREFIX = '.xfer-save-'
#: Deflate cannot expand data more than about 1032-fold: a larger ratio marks a tampered archive.
_MAX_DEFLATE_RATIO = 1032


class SavedFileError(ValueError):
    """A saved file that is truncated, tampered with or missing a part."""

    def __init__(self, path, problem):
        super().__init__('Bad saved file {}: {}'.format(path, problem))
        self.path = path
        self.problem = problem


# ------------------------------------------------------------------------------ atomic saves
@contextlib.contextmanager
def staged_save(json_path):
    """Yield the prefix under which a save writes its companion files, in a private staging folder.

    The folder (mode 0700, inside the model directory so that files can be linked out of it)
    is removed afterwards; :func:`commit_save` publishes its files and the JSON.
    """
    directory = os.path.dirname(json_path) or '.'
    if not os.path.isdir(directory):
        raise FileNotFoundError('Cannot save {}: the directory {} does not exist'.format(json_path, directory))
    name = os.path.basename(json_path)[:-len('.json')]
    staging = tempfile.mkdtemp(prefix=_staging_prefix(name) + '{}.'.format(os.getpid()), dir=directory)
    try:
        yield os.path.join(staging, '{}.{}'.format(name, secrets.token_hex(_TOKEN_DIGITS // 2)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def commit_save(json_path, staged_prefix, content):
    """Publish the files written under ``staged_prefix``, then the JSON ``content`` that lists them.

    Each companion is flushed, checksummed and hard-linked into the model directory under its
    fresh name (a link never overwrites nor follows an existing file); then the JSON is written
    to a temporary file, flushed and renamed over ``json_path`` (a symlink there is replaced,
    never written through). Companions of earlier saves of this name are removed last.
    """
    staging, prefix = os.path.split(staged_prefix)
    directory = os.path.dirname(json_path) or '.'
    checksums = {}
    for file_name in sorted(os.listdir(staging)):
        staged = os.path.join(staging, file_name)
        if not file_name.startswith(prefix) or not _is_regular_file(staged):
            raise ValueError('serialize() wrote {}, which is not a file named {}*'.format(staged, staged_prefix))
        checksums[file_name] = _flushed_checksum(staged)
        _publish(staged, os.path.join(directory, file_name))
    content = dict(content, **{COMPANIONS_KEY: {'prefix': prefix, 'sha256': checksums}})
    staged_json = os.path.join(staging, prefix + '.json.tmp')
    with _fresh_file(staged_json) as json_file:
        json_file.write(json.dumps(content, indent=1).encode('utf-8'))
    _sync_directory(directory)
    os.replace(staged_json, json_path)
    _sync_directory(directory)
    name = os.path.basename(json_path)[:-len('.json')]
    _tidy_after_commit(directory, name, set(checksums))


def companion_prefix(json_path, content, skip_source=False):
    """The prefix of the companion files of the save ``content`` read from ``json_path``.

    For a save that lists its companions, each listed file is checked to exist and to match
    its recorded SHA-256 (the source model's files are skipped when ``skip_source``). Files
    written by Xfer 1.1 or an earlier xfer list none: their fixed names are used unchecked.
    """
    if COMPANIONS_KEY not in content:
        return json_path[:-len('.json')]
    listing = require(content, COMPANIONS_KEY, dict, json_path)
    prefix = listing.get('prefix')
    checksums = listing.get('sha256')
    if not isinstance(prefix, str) or not _is_plain_name(prefix) or not isinstance(checksums, dict):
        raise SavedFileError(json_path, "'{}' should hold a file name 'prefix' and a dict 'sha256'".format(
            COMPANIONS_KEY))
    directory = os.path.dirname(json_path)
    for file_name, checksum in sorted(checksums.items()):
        if not (_is_plain_name(file_name) and file_name.startswith(prefix) and isinstance(checksum, str)):
            raise SavedFileError(json_path, "'{}' lists {!r}, which is not a companion file name".format(
                COMPANIONS_KEY, file_name[:100]))
        if skip_source and file_name.startswith(prefix + '_source'):
            continue
        path = os.path.join(directory, file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError('Saved file not found: {} (listed in {})'.format(path, json_path))
        if _checksum(path) != checksum:
            raise SavedFileError(path, 'its SHA-256 differs from the one {} records: the file was edited, or '
                                       'belongs to another save'.format(os.path.basename(json_path)))
    return os.path.join(directory, prefix)


def _is_plain_name(name):
    return bool(name) and os.sep not in name and '/' not in name and name not in ('.', '..') \
        and not name.startswith('.')


def _is_regular_file(path):
    return stat.S_ISREG(os.lstat(path).st_mode)


@contextlib.contextmanager
def _fresh_file(path):
    """A binary file object on a new file at ``path``: fails if anything, a symlink included, is there."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    with os.fdopen(descriptor, 'wb') as stream:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())


def _flushed_checksum(path):
    """Flush ``path`` to disk and return its SHA-256."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return _checksum(path)


def _checksum(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _publish(staged, target):
    """Give the staged file the name ``target``; never replaces or follows what is already there."""
    try:
        os.link(staged, target, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError('Cannot save: {} already exists (a fresh name was expected)'.format(target)) from None
    except OSError:  # a file system without hard links: copy into a new file instead
        with open(staged, 'rb') as source, _fresh_file(target) as copy:
            shutil.copyfileobj(source, copy)


def _sync_directory(directory):
    """Flush a directory's entries (new names, renames) to disk, where the platform allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _tidy_after_commit(directory, name, current):
    """Remove what earlier saves of ``name`` left: their companions, listed or orphaned by a killed save,
    and the staging folders of killed saves on this machine.

    The files of a save still in progress are kept (they are also in its staging folder, whose
    process is alive or runs on another machine), so concurrent saves of one name never
    delete each other's files; the last JSON renamed into place wins.
    """
    in_progress = set()
    for entry in os.listdir(directory):
        if not entry.startswith('{}{}.'.format(_STAGING_PREFIX, name)):
            continue
        folder = os.path.join(directory, entry)
        if _abandoned(entry, name):
            shutil.rmtree(folder, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                in_progress.update(os.listdir(folder))
    pattern = re.compile(r'{}\.[0-9a-f]{{{}}}[-_.]'.format(re.escape(name), _TOKEN_DIGITS))
    for file_name in os.listdir(directory):
        if pattern.match(file_name) and file_name not in current and file_name not in in_progress:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(os.path.join(directory, file_name))


def _staging_prefix(name):
    """Staging folders of saves of ``name`` on this machine start with this, then the saving process's id."""
    return '{}{}.{}.'.format(_STAGING_PREFIX, name, platform.node() or 'host')


def _abandoned(staging_folder, name):
    """Whether a staging folder of ``name`` was left by a save on this machine whose process is gone."""
    prefix = _staging_prefix(name)
    pid = staging_folder[len(prefix):].split('.', 1)[0]
    return staging_folder.startswith(prefix) and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True


# ---------------------------------------------------------------------------- JSON and arrays
def read_json(path):
    """The dict saved in ``path``; FileNotFoundError or SavedFileError naming it otherwise."""
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    content = parse_json(path)
    if not isinstance(content, dict):
        raise SavedFileError(path, 'expected a JSON object, found {}'.format(type(content).__name__))
    return content


def parse_json(path):
    """Whatever JSON value ``path`` holds, or SavedFileError saying why it is not JSON."""
    with open(path, 'rb') as json_file:
        raw = json_file.read()
    if not raw:
        raise SavedFileError(path, 'the file is empty (0 bytes)')
    try:
        return json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as error:
        raise SavedFileError(path, 'not valid JSON (truncated or edited?): not UTF-8 text ({})'.format(
            error.reason)) from None
    except ValueError as error:
        raise SavedFileError(path, 'not valid JSON (truncated or edited?): {}'.format(error)) from None
    except RecursionError:
        raise SavedFileError(path, 'not valid JSON (truncated or edited?): nested too deeply to be a saved '
                                   'repurposer') from None


def require(content, key, expected_type, path):
    """``content[key]``, checked to exist and to be of ``expected_type``."""
    if key not in content:
        raise SavedFileError(path, "the key '{}' is missing".format(key))
    value = content[key]
    if not isinstance(value, expected_type) or (isinstance(value, bool) and expected_type in (int, float)):
        names = getattr(expected_type, '__name__', None) or ' or '.join(t.__name__ for t in expected_type)
        raise SavedFileError(path, "'{}' should be of type {}, found {}".format(key, names, type(value).__name__))
    return value


#: Saved constructor arguments whose checks differ from the rule derived from their default.
_PARAMETER_RULES = {
    'gamma': 'str or number',  # SVC's 'auto' / 'scale' or a kernel coefficient
    'num_layers': 'int >= 0',  # a BNN without hidden layers is Bayesian logistic regression
    'transferred_learning_rate_multiplier': 'number >= 0',  # 0 keeps the transferred params as they are
    'start_annealing': 'int >= 0 or None',
    'end_annealing': 'int >= 0 or None',
    'optimizer_params': 'dict or None',
}


def check_saved_parameters(repurposer_class, parameters, path):
    """Check each saved constructor argument by the kind of its default in ``repurposer_class``.

    A numeric default asks for a finite number (positive where the default is), a bool default
    for a bool, a string default for a string. Arguments the class does not take are left to
    its constructor, which rejects them.
    """
    defaults = {name: parameter.default for name, parameter in
                inspect.signature(repurposer_class.__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    for name, value in parameters.items():
        if name not in defaults:
            continue
        rule = _PARAMETER_RULES.get(name) or _rule_of_default(defaults[name])
        if rule and not _obeys(value, rule):
            raise SavedFileError(path, "'parameters' holds {}={!r}; it should be {}".format(
                name, _short(value), rule.replace('number', 'finite number')))


def _rule_of_default(default):
    if isinstance(default, bool):
        return 'bool'
    if isinstance(default, int):
        return 'int >= 1' if default >= 1 else 'int'
    if isinstance(default, float):
        return 'number > 0' if default > 0 else 'number'
    if isinstance(default, str):
        return 'str'
    return None


def _obeys(value, rule):
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    is_int = isinstance(value, int) and not isinstance(value, bool)
    checks = {
        'bool': isinstance(value, bool), 'str': isinstance(value, str), 'int': is_int,
        'int >= 1': is_int and value >= 1, 'int >= 0': is_int and value >= 0,
        'int >= 0 or None': value is None or (is_int and value >= 0),
        'number': is_number, 'number > 0': is_number and value > 0, 'number >= 0': is_number and value >= 0,
        'str or number': isinstance(value, str) or is_number,
        'dict or None': value is None or (isinstance(value, dict) and all(
            isinstance(item, _JSON_SCALARS) for item in value.values())),
    }
    return checks[rule]


def _short(value):
    text = repr(value)
    return value if len(text) <= 60 else text[:57] + '...'


def check_history(history, path):
    """A per-epoch training history: a dict of name to a list of numbers (or None where not measured)."""
    for name, values in history.items():
        if not isinstance(values, list) or not all(
                value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)) for value in values):
            raise SavedFileError(path, "'history' should map names to lists of numbers; '{}' holds {!r}".format(
                name, _short(values)))
    return history


def encode_array(array):
    array = np.asarray(array)
    return {'dtype': array.dtype.str, 'shape': list(array.shape), 'data': array.ravel().tolist()}


def decode_array(value, path, key):
    """The array that :func:`encode_array` described, after checking dtype, shape and size."""
    if not isinstance(value, dict) or set(value) != {'dtype', 'shape', 'data'}:
        raise SavedFileError(path, "'{}' is not a saved array".format(key))
    try:
        dtype = np.dtype(value['dtype'])
    except TypeError:
        raise SavedFileError(path, "'{}' has an unknown dtype {!r}".format(key, value['dtype'])) from None
    shape = value['shape']
    if dtype.kind not in _ARRAY_KINDS or not isinstance(shape, list) or not all(
            isinstance(n, int) and n >= 0 for n in shape) or not isinstance(value['data'], list):
        raise SavedFileError(path, "'{}' is not a numeric array of a valid shape".format(key))
    try:
        array = np.array(value['data'], dtype=dtype)
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' holds values that are not numbers".format(key)) from None
    if array.ndim != 1 or array.size != int(np.prod(shape)):
        raise SavedFileError(path, "'{}' holds {} values, its shape {} needs {}".format(
            key, array.size, shape, int(np.prod(shape))))
    if not np.all(np.isfinite(array)):
        raise SavedFileError(path, "'{}' holds NaN or infinite values".format(key))
    return array.reshape(shape)


def encode_attributes(obj, names):
    """The named attributes of ``obj`` as JSON values (arrays encoded, scalars as they are)."""
    encoded = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, np.ndarray):
            encoded[name] = {'array': encode_array(value)}
        elif isinstance(value, np.generic):
            encoded[name] = {'scalar': encode_array(value)}
        elif isinstance(value, (tuple, list)) and all(isinstance(item, _JSON_SCALARS) for item in value):
            encoded[name] = {'tuple' if isinstance(value, tuple) else 'list': list(value)}
        elif isinstance(value, _JSON_SCALARS):
            encoded[name] = {'value': value}
        else:
            raise TypeError('Cannot save attribute {} of type {}'.format(name, type(value).__name__))
    return encoded


def decode_attributes(encoded, path):
    """Attributes saved by :func:`encode_attributes`, as a dict of name to value."""
    if not isinstance(encoded, dict):
        raise SavedFileError(path, 'saved attributes should be a JSON object')
    decoded = {}
    for name, wrapped in encoded.items():
        if not isinstance(wrapped, dict) or len(wrapped) != 1:
            raise SavedFileError(path, "attribute '{}' is malformed".format(name))
        (kind, value), = wrapped.items()
        if kind == 'array':
            decoded[name] = decode_array(value, path, name)
        elif kind == 'scalar':
            decoded[name] = decode_array(value, path, name)[()]
        elif kind in ('tuple', 'list') and isinstance(value, list):
            decoded[name] = tuple(value) if kind == 'tuple' else value
        elif kind == 'value' and isinstance(value, _JSON_SCALARS):
            decoded[name] = value
        else:
            raise SavedFileError(path, "attribute '{}' is malformed".format(name))
    return decoded


def write_npz(path, arrays):
    """Write ``arrays`` (name -> array) as an uncompressed ``.npz`` to a new file at ``path``."""
    with _fresh_file(path) as npz_file:
        np.savez(npz_file, **{name: np.asarray(array) for name, array in arrays.items()})


def read_npz(path, expected_names):
    """The arrays ``expected_names`` saved in ``path``, and no other member of the archive.

    Every member's ``.npy`` header is checked before its data is read: numeric dtype (no
    pickled objects) and a size that the archive really holds, so a header declaring a huge
    array is refused instead of allocated.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    if os.path.getsize(path) == 0:
        raise SavedFileError(path, 'the file is empty (0 bytes)')
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: _read_member(archive, name, path) for name in expected_names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as error:
        if isinstance(error, SavedFileError):
            raise
        raise SavedFileError(path, 'not a readable .npz file (truncated or edited?): {}'.format(error)) from None


def _read_member(archive, name, path):
    try:
        info = archive.getinfo(name + '.npy')
    except KeyError:
        raise SavedFileError(path, "the array '{}' is missing".format(name)) from None
    if info.compress_size > os.path.getsize(path) or info.file_size > max(
            info.compress_size * _MAX_DEFLATE_RATIO, info.compress_size + 1024):
        raise SavedFileError(path, "the archive's directory gives '{}' impossible sizes".format(name))
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(member)
        if dtype.hasobject or dtype.kind not in _ARRAY_KINDS:
            raise SavedFileError(path, "'{}' has dtype {}, not a numeric one".format(name, dtype))
        declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        held = info.file_size - member.tell()
        if declared != held:
            raise SavedFileError(path, "the header of '{}' declares shape {} ({} bytes) but the archive holds {} "
                                       "bytes for it".format(name, shape, declared, held))
        data = member.read(held)
    if len(data) != held:
        raise SavedFileError(path, "'{}' is truncated".format(name))
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order='F' if fortran_order else 'C').copy()


def read_xfer11_parameter_lists(path, expected_names):
    """The arrays of the gluon Parameters that Xfer 1.1 pickled into an ``.npz`` (name -> list of arrays).

    Xfer 1.1 saved a BNN posterior as object arrays of ``mxnet.gluon.Parameter``. They are read
    with a restricted unpickler: only the few classes such a file holds are allowed, each
    replaced by an inert stand-in that just keeps its saved state; the weights are then decoded
    from MXNet's raw array bytes. Anything else in the pickle is refused.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('Saved file not found: {}'.format(path))
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: _parameter_arrays(_unpickled_member(archive, name, path), name, path)
                    for name in expected_names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        if isinstance(error, SavedFileError):
            raise
        raise SavedFileError(path, 'not a readable .npz file (truncated or edited?): {}'.format(error)) from None


class _Inert:
    """Stands in for an allowed class while unpickling: takes any arguments and keeps the saved state."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


_ALLOWED_PICKLE_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): np.core.multiarray._reconstruct,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('builtins', 'bytearray'): bytearray,
    ('mxnet.gluon.parameter', 'Parameter'): _Inert,
    ('mxnet.ndarray.ndarray', 'NDArray'): _Inert,
    ('mxnet.context', 'Context'): _Inert,
    ('mxnet.initializer', 'Constant'): _Inert,
    ('mxnet.initializer', 'Normal'): _Inert,
}


def _unpickled_member(archive, name, path):
    import pickle

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, global_name):
            if (module, global_name) in _ALLOWED_PICKLE_GLOBALS:
                return _ALLOWED_PICKLE_GLOBALS[module, global_name]
            if module == 'numpy' and global_name in ('float16', 'float32', 'float64'):
                return getattr(np, global_name)
            raise pickle.UnpicklingError('{}.{} is not allowed in a saved posterior'.format(module, global_name))

    try:
        info = archive.getinfo(name + '.npy')
    except KeyError:
        raise SavedFileError(path, "the array '{}' is missing".format(name)) from None
    with archive.open(info) as member:
        np.lib.format.read_magic(member)
        _, _, dtype = np.lib.format.read_array_header_1_0(member)
        if not dtype.hasobject:
            raise SavedFileError(path, "'{}' should hold the pickled Parameters Xfer 1.1 saved".format(name))
        try:
            return RestrictedUnpickler(member).load()
        except (pickle.UnpicklingError, AttributeError, TypeError, IndexError, KeyError) as error:
            raise SavedFileError(path, "'{}' cannot be read safely: {}".format(name, error)) from None


def _parameter_arrays(parameters, name, path):
    """The first-device value of each saved Parameter, decoded from MXNet's raw array bytes."""
    arrays = []
    for parameter in np.asarray(parameters, dtype=object).ravel():
        state = getattr(parameter, 'state', None)
        data = state.get('_data') if isinstance(state, dict) else None
        raw = getattr(data[0], 'state', {}).get('handle') if isinstance(data, list) and data else None
        if not isinstance(raw, (bytes, bytearray)):
            raise SavedFileError(path, "'{}' holds something other than initialised gluon Parameters".format(name))
        array = mx.nd.NDArray.__new__(mx.nd.NDArray)
        try:
            array.__setstate__({'handle': bytearray(raw)})  # MXNet's own decoder of one array's bytes
        except mx.base.MXNetError as error:
            raise SavedFileError(path, "'{}' holds an unreadable array: {}".format(
                name, _mxnet_reason(error))) from None
        arrays.append(array.asnumpy())
    return arrays


def save_module(module, prefix):
    """Write a module's network and params as ``<prefix>-symbol.json`` and ``<prefix>-0000.params``
    (new files: nothing at those names is overwritten or written through)."""
    handler = ModelHandler(module)
    with _fresh_file('{}-symbol.json'.format(prefix)) as symbol_file:
        symbol_file.write(handler.symbol.tojson().encode('utf-8'))
    params = {'arg:' + name: value for name, value in handler.arg_params.items()}
    params.update({'aux:' + name: value for name, value in handler.aux_params.items()})
    params_path = '{}-0000.params'.format(prefix)
    with _fresh_file(params_path):
        pass  # claims the name as a new regular file; MXNet then fills it by name
    mx.nd.save(params_path, params)


def load_module(prefix):
    """A module with the network and params written by :func:`save_module` (not bound)."""
    symbol_path, params_path = '{}-symbol.json'.format(prefix), '{}-0000.params'.format(prefix)
    for path in (symbol_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError('Saved file not found: {}'.format(path))
    graph = parse_json(symbol_path)
    if not isinstance(graph, dict) or not isinstance(graph.get('nodes'), list):
        raise SavedFileError(symbol_path, 'not an MXNet network: no list of nodes')
    try:
        symbol = mx.sym.load_json(json.dumps(graph))
    except mx.base.MXNetError as error:
        raise SavedFileError(symbol_path, 'not a readable network: {}'.format(_mxnet_reason(error))) from None
    if os.path.getsize(params_path) == 0:
        raise SavedFileError(params_path, 'the file is empty (0 bytes)')
    try:
        saved = mx.nd.load(params_path)
    except mx.base.MXNetError as error:
        raise SavedFileError(params_path, 'params cannot be read: {}'.format(_mxnet_reason(error))) from None
    if not isinstance(saved, dict) or not all(key[:4] in ('arg:', 'aux:') for key in saved):
        raise SavedFileError(params_path, "params cannot be read: expected names starting 'arg:' or 'aux:'")
    module = mx.mod.Module(symbol, label_names=naming.label_names(symbol))
    module._arg_params = {key[4:]: value for key, value in saved.items() if key.startswith('arg:')}
    module._aux_params = {key[4:]: value for key, value in saved.items() if key.startswith('aux:')}
    module.params_initialized = True
    return module


def _mxnet_reason(error):
    """The line of an MXNet error that says what went wrong (not its traceback header)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else repr(error)
    reason = reason.split('MXNetError: ', 1)[-1]
    if reason.startswith('Check failed:'):
        reason = reason.rsplit(': ', 1)[-1]
    return reason


def encode_estimator(estimator):
    """The fitted state of a scikit-learn estimator: every attribute that is not a constructor argument."""
    fitted = sorted(set(vars(estimator)) - set(estimator.get_params()))
    return encode_attributes(estimator, fitted)


def restore_estimator(estimator, encoded, path):
    """``estimator`` (unfitted, built from the saved params) given the fitted state saved by
    :func:`encode_estimator`, then checked to predict on one sample of zeros."""
    for name, value in decode_attributes(encoded, path).items():
        setattr(estimator, name, value)
    return _checked_to_predict(estimator, path)


#: Per scikit-learn estimator that Xfer 1.1 saved (``sklearn_model_to_dict``): the fitted attributes
#: read from its JSON, as Xfer 1.1's name -> (today's name, kind, dtype). Nothing else in it is read.
_XFER11_ESTIMATOR_ATTRIBUTES = {
    'LogisticRegression': {'coef_': ('coef_', 'array', np.float64),
                           'intercept_': ('intercept_', 'array', np.float64),
                           'classes_': ('classes_', 'array', None)},
    'SVC': {'support_': ('support_', 'array', np.int32), 'support_vectors_': ('support_vectors_', 'array', np.float64),
            'n_support_': ('_n_support', 'array', np.int32), 'dual_coef_': ('dual_coef_', 'array', np.float64),
            '_dual_coef_': ('_dual_coef_', 'array', np.float64), 'intercept_': ('intercept_', 'array', np.float64),
            '_intercept_': ('_intercept_', 'array', np.float64), 'probA_': ('_probA', 'array', np.float64),
            'probB_': ('_probB', 'array', np.float64), 'classes_': ('classes_', 'array', None),
            'class_weight_': ('class_weight_', 'array', np.float64), 'fit_status_': ('fit_status_', 'int', None),
            'shape_fit_': ('shape_fit_', 'tuple', None), '_gamma': ('_gamma', 'number', None),
            '_sparse': ('_sparse', 'bool', None)},
}
#: The attribute whose columns give each estimator's number of input features.
_FEATURES_FROM = {'LogisticRegression': 'coef_', 'SVC': 'support_vectors_'}


def is_xfer11_estimator(target_model):
    """Whether a saved ``target_model`` is a scikit-learn model as Xfer 1.1 wrote it (``{'model': ...}``)."""
    return isinstance(target_model, dict) and set(target_model) == {'model'}


def restore_xfer11_estimator(estimator, target_model, path):
    """``estimator`` given the fitted state that Xfer 1.1 saved: only the known attributes are read,
    each checked for its kind (no name from the file is evaluated or set blindly)."""
    kind_name = type(estimator).__name__
    model = target_model['model']
    attributes = model.get('attributes') if isinstance(model, dict) else None
    if not isinstance(attributes, dict):
        raise SavedFileError(path, "Xfer 1.1's 'target_model' should hold {'model': {'attributes': {...}}}")
    for old_name, (name, kind, dtype) in _XFER11_ESTIMATOR_ATTRIBUTES[kind_name].items():
        if old_name not in attributes:
            raise SavedFileError(path, "the {} saved by Xfer 1.1 lacks its attribute '{}'".format(kind_name, old_name))
        setattr(estimator, name, _xfer11_value(attributes[old_name], kind, dtype, path, old_name))
    estimator.n_features_in_ = getattr(estimator, _FEATURES_FROM[kind_name]).shape[-1]
    if (model.get('parameters') or {}).get('multi_class') == 'multinomial' and getattr(estimator, 'coef_', None) \
            is not None and estimator.coef_.shape[0] == 1:
        # Two classes: Xfer 1.1's multinomial model gave softmax(-d, d) = sigmoid(2d); today's gives sigmoid(d).
        estimator.coef_, estimator.intercept_ = 2 * estimator.coef_, 2 * estimator.intercept_
    return _checked_to_predict(estimator, path)


def _xfer11_value(value, kind, dtype, path, key):
    if kind == 'array':
        return _xfer11_array(value, dtype, path, key)
    if kind == 'tuple' and isinstance(value, list) and len(value) == 2 and value[0] == 'tuple' \
            and isinstance(value[1], list) and all(isinstance(n, int) for n in value[1]):
        return tuple(value[1])
    if kind == 'bool' and isinstance(value, bool):
        return value
    if kind == 'int' and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == 'number' and isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    raise SavedFileError(path, "'{}' should be {} as Xfer 1.1 wrote it, found {!r}".format(key, kind, _short(value)))


def _xfer11_array(value, dtype, path, key):
    """An array as Xfer 1.1 wrote it, ``[dtype name, nested lists]``; the dtype name is looked up, never run."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list)):
        raise SavedFileError(path, "'{}' should be an array as Xfer 1.1 wrote it: [dtype name, values]".format(key))
    try:
        saved_dtype = np.dtype(value[0])
    except TypeError:
        raise SavedFileError(path, "'{}' has an unknown dtype {!r}".format(key, value[0][:40])) from None
    if saved_dtype.kind not in _ARRAY_KINDS:
        raise SavedFileError(path, "'{}' has dtype {}, not a numeric one".format(key, saved_dtype))
    try:
        array = np.array(value[1], dtype=dtype or saved_dtype)
    except (TypeError, ValueError):
        raise SavedFileError(path, "'{}' holds values that are not numbers (or rows of unequal length)".format(
            key)) from None
    if not np.all(np.isfinite(array)):
        raise SavedFileError(path, "'{}' holds NaN or infinite values".format(key))
    return array


def warn_xfer11_file(path):
    """Tell the user that ``path`` was written by Xfer 1.1 and what that means."""
    warnings.warn('{} was written by Xfer 1.1: it is read in that layout, which records no checksums and no source '
                  'fingerprint, so a mixed set of files or another source network cannot be detected'.format(path))


def _checked_to_predict(estimator, path):
    try:
        estimator.predict(np.zeros((1, int(estimator.n_features_in_))))
    except Exception as error:  # any failure here means the saved state does not make a model
        raise SavedFileError(path, 'the saved {} does not predict: {!r}'.format(
            type(estimator).__name__, error)) from None
    return estimator
