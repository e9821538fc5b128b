"""The API reference in docs/api/ names every public class and function of xfer."""
import glob
import inspect
import os
import re

import pytest

import xfer
from xfer import calibration, data, distributed, model_handler, model_zoo, prob, transferability, validation
from xfer.contrib import xfer_leap
from xfer.model_zoo import efficientnet_lite, torch_legacy_reader

API_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs', 'api')


def api_source():
    pages = sorted(glob.glob(os.path.join(API_DIR, '*.md')))
    assert pages, 'no API page found in docs/api/'
    text = ''
    for page in pages:
        with open(page) as source:
            text += source.read()
    return text


def defined_public_names(module):
    """Classes and functions defined in ``module`` whose names do not start with an underscore."""
    return [name for name, obj in vars(module).items()
            if not name.startswith('_') and (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__ == module.__name__]


PUBLIC_NAMES = sorted(
    {('xfer', name) for name in xfer.__all__}
    | {('xfer.model_handler', name) for name in model_handler.__all__}
    | {('xfer.prob', name) for name in prob.__all__}
    | {('xfer.data', name) for name in data.__all__}
    | {('xfer.model_zoo', name) for name in model_zoo.__all__}
    | {('xfer.distributed', name) for name in distributed.__all__}
    | {('xfer.contrib.xfer_leap', name) for name in xfer_leap.__all__}
    | {(module.__name__, name) for module in (transferability, calibration, validation, data.datasets, data.text,
                                              efficientnet_lite, torch_legacy_reader)
       for name in defined_public_names(module)})


@pytest.mark.parametrize('module_name, name', PUBLIC_NAMES, ids=lambda value: value)
def test_public_name_is_in_the_api_reference(module_name, name):
    assert re.search(r'\b{}\b'.format(re.escape(name)), api_source()), (
        '{}.{} is public but missing from docs/api/*.md: add an autodoc entry for it'.format(module_name, name))
