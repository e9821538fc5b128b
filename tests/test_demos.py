"""Every notebook in demos/ runs top to bottom, and keeps its figures."""
import glob
import os

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')

DEMOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'demos')
NOTEBOOKS = sorted(glob.glob(os.path.join(DEMOS, '*.ipynb')))


def test_there_are_notebooks():
    assert NOTEBOOKS, 'no notebook found in demos/'


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_and_draws(path):
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name='python3',
                            resources={'metadata': {'path': DEMOS}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == 'code' for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == 'error']
    assert any('image/png' in output.get('data', {}) for output in outputs), 'the notebook shows no figure'
