"""Reading a saved JSON file and checking its fields: each bad value is reported as a
:class:`SavedFileError` naming the file, the key and what the value should be."""
import inspect
import json
import os

import numpy as np

from .errors import SavedFileError

_JSON_SCALARS = (bool, int, float, str, type(None))


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
