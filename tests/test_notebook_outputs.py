"""The outputs stored in every demos/*.ipynb are clean: no traceback, warning, absolute path, MXNet log
line or progress-bar widget. Fast: it reads the saved JSON and runs nothing (tests/test_demos.py runs them)."""
import glob
import json
import os
import re

import pytest

DEMOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'demos')
NOTEBOOKS = sorted(glob.glob(os.path.join(DEMOS, '*.ipynb')))

#: What a reader should never see in a stored output, each with the pattern that finds it in the text.
PROBLEMS = {
    'a traceback': re.compile(r'Traceback \(most recent call last\)'),
    'a warning': re.compile(r'\b\w*Warning: |^\s*warnings\.warn\(', re.MULTILINE),
    # '/dir/dir' after a space, quote, bracket or line start (so not URLs), or a Windows drive: 'C:\'
    'an absolute path': re.compile(r'''(?:^|[\s'"(\[=])/[\w.-]+/[\w.-]|\b[A-Za-z]:\\[\w.-]''', re.MULTILINE),
    # MXNet's C++ log: '[15:00:09] ../src/executor/graph_executor.cc:60: MXNET_SUBGRAPH_BACKEND=NONE ...'
    'an MXNet log line': re.compile(r'^\[\d\d:\d\d:\d\d\] \S+\.(?:cc|h):\d+: |MXNET_SUBGRAPH_BACKEND', re.MULTILINE),
}
WIDGET = 'application/vnd.jupyter.widget-view+json'


def output_texts(output):
    """The text a reader sees in one stored output: a stream, a result's plain text or HTML, an error."""
    if output['output_type'] == 'stream':
        yield _joined(output['text'])
    elif output['output_type'] == 'error':
        yield 'Traceback (most recent call last)\n{}: {}'.format(output['ename'], output['evalue'])
        yield _joined(output.get('traceback', []))
    else:
        for kind in ('text/plain', 'text/html', 'text/markdown'):
            if kind in output.get('data', {}):
                yield _joined(output['data'][kind])


def problems_in(notebook):
    """``'cell N: <problem>: <the offending line>'`` for each problem in a notebook's stored outputs
    (N counts every cell from 0, as Jupyter's cell list does)."""
    found = []
    for number, cell in enumerate(notebook['cells']):
        for output in cell.get('outputs', []):
            if WIDGET in output.get('data', {}):
                found.append('cell {}: a progress-bar widget, dead once saved'.format(number))
            for text in output_texts(output):
                for problem, pattern in PROBLEMS.items():
                    match = pattern.search(text)
                    if match:
                        found.append('cell {}: {}: {}'.format(number, problem, _line_around(text, match.start())))
    return found


def _joined(text):
    return text if isinstance(text, str) else ''.join(text)


def _line_around(text, position):
    start = text.rfind('\n', 0, position) + 1
    end = text.find('\n', position)
    return text[start:end if end >= 0 else len(text)].strip()


def _notebook(*outputs):
    """A minimal notebook: one code cell printing fine, then one code cell with the given outputs."""
    clean = {'output_type': 'stream', 'name': 'stdout', 'text': ['accuracy 0.93 on digits 5-9 / 100\n']}
    return {'cells': [{'cell_type': 'markdown', 'source': 'Paths like /work/x in prose are fine.'},
                      {'cell_type': 'code', 'outputs': [clean]},
                      {'cell_type': 'code', 'outputs': list(outputs)}]}


def _stream(text, name='stdout'):
    return {'output_type': 'stream', 'name': name, 'text': text}


def _result(text):
    return {'output_type': 'execute_result', 'data': {'text/plain': text}, 'metadata': {}, 'execution_count': 1}


@pytest.mark.parametrize('output, problem', [
    ({'output_type': 'error', 'ename': 'ValueError', 'evalue': 'bad', 'traceback': ['ValueError: bad']},
     'a traceback'),
    (_stream('Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 3\n', 'stderr'), 'a traceback'),
    (_stream('x.py:3: UserWarning: Parameters already initialized\n', 'stderr'), 'a warning'),
    (_result(['RuntimeWarning: overflow encountered in exp']), 'a warning'),
    (_stream('saved to /home/alice/models/lenet-0000.params\n'), 'an absolute path'),
    (_result("{'path': '/tmp/tmpab12/knn.json'}"), 'an absolute path'),
    (_stream('C:\\Users\\alice\\xfer\\demo.json\n'), 'an absolute path'),
    (_stream('[15:00:09] ../src/executor/graph_executor.cc:60: MXNET_SUBGRAPH_BACKEND=NONE is detected, '
             'subgraph backend is not in use\n', 'stderr'), 'an MXNet log line'),
    (_stream('[09:12:44] ../src/storage/storage.cc:202: Using Pooled (Naive) StorageManager for CPU\n', 'stderr'),
     'an MXNet log line'),
])
def test_each_problem_is_caught_and_named_with_its_cell(output, problem):
    found = problems_in(_notebook(output))
    assert len(found) >= 1
    assert found[0].startswith('cell 2: {}: '.format(problem))


def test_a_progress_bar_widget_is_caught():
    widget = {'output_type': 'display_data', 'metadata': {},
              'data': {WIDGET: {'model_id': 'abc'}, 'text/plain': 'training:   0%|          | 0/20'}}
    assert problems_in(_notebook(widget)) == ['cell 2: a progress-bar widget, dead once saved']


@pytest.mark.parametrize('text', [
    'identical predictions: True\n',
    '@united cool picture http://t.co/p7fSLuxEGW and https://example.org/a/b\n',
    "ModelError: Cannot add layer 'fc_more' above 'softmax': that is a loss/output layer\n",
    "['knn.json', 'knn_source-0000.params', 'knn_source-symbol.json']\n",
    'learning rate 1e-3, accuracy 0.90 +/- 0.02, warnings: none\n',
])
def test_ordinary_output_is_not_flagged(text):
    assert problems_in(_notebook(_stream(text), _result(text))) == []


def test_there_are_notebooks():
    assert NOTEBOOKS, 'no notebook found in demos/'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_stored_outputs_are_clean(path):
    with open(path, encoding='utf-8') as stream:
        notebook = json.load(stream)
    assert problems_in(notebook) == [], 're-execute {} once its outputs are fixed'.format(os.path.basename(path))
