"""Sphinx configuration of the xfer documentation site."""
import glob
import os
import shutil
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)
os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import xfer  # noqa: E402


def copy_demo_notebooks():
    """Mirror ``demos/*.ipynb`` into ``docs/_demos`` (git-ignored): Sphinx reads sources inside ``docs/`` only."""
    target = os.path.join(DOCS, '_demos')
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for notebook in sorted(glob.glob(os.path.join(ROOT, 'demos', '*.ipynb'))):
        shutil.copy2(notebook, target)


copy_demo_notebooks()

project = 'xfer'
author = 'xfer contributors'
copyright = 'xfer contributors, Apache-2.0'
version = release = xfer.__version__

extensions = [
    'myst_nb',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'myst-nb', '.ipynb': 'myst-nb'}
exclude_patterns = ['_build']

myst_enable_extensions = ['colon_fence', 'dollarmath']
myst_heading_anchors = 3
nb_execution_mode = 'off'
nb_merge_streams = True
# A stored notebook output on stderr (a warning, an MXNet log line, a text progress bar) is a fault to fix in
# the notebook, not something to hide: 'warn' reports it, and the -W build (scripts/docs.sh) fails on it.
# 'remove' would only hide it on the site while the .ipynb that readers open still shows it.
nb_output_stderr = 'warn'

napoleon_use_ivar = True
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {'show-inheritance': True}

html_theme = 'furo'
html_title = 'xfer {}'.format(release)
