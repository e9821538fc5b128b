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

The parts, each in its own module: ``errors`` (:class:`SavedFileError`), ``atomic_save`` (crash-safe
saves), ``json_fields`` (reading JSON and checking its fields), ``arrays`` (arrays as JSON numbers
and in ``.npz`` files), ``legacy_pickle`` (Xfer 1.1's pickled posterior), ``modules`` (MXNet
networks and params) and ``estimators`` (fitted scikit-learn models).
"""
from .errors import SavedFileError, warn_xfer11_file
from .json_fields import check_history, check_saved_parameters, parse_json, read_json, require
from .atomic_save import COMPANIONS_KEY, commit_save, companion_prefix, staged_save
from .arrays import decode_array, decode_attributes, encode_array, encode_attributes, read_npz, write_npz
from .modules import load_module, save_module
from .legacy_pickle import read_xfer11_parameter_lists
from .estimators import encode_estimator, is_xfer11_estimator, restore_estimator, restore_xfer11_estimator

__all__ = ['SavedFileError', 'COMPANIONS_KEY', 'staged_save', 'commit_save', 'companion_prefix', 'read_json',
           'parse_json', 'require', 'check_saved_parameters', 'check_history', 'encode_array', 'decode_array',
           'encode_attributes', 'decode_attributes', 'write_npz', 'read_npz', 'read_xfer11_parameter_lists',
           'save_module', 'load_module', 'encode_estimator', 'restore_estimator', 'is_xfer11_estimator',
           'restore_xfer11_estimator', 'warn_xfer11_file']
