"""The README's main job, demos/quickstart.py, runs end to end and saves its figure."""
import importlib.util
import os

import pytest

QUICKSTART = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'demos', 'quickstart.py')


@pytest.mark.slow
def test_quickstart_prints_both_tables_and_saves_the_figure(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('quickstart', QUICKSTART)
    quickstart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quickstart)
    quickstart.main(['--shots', '2', '--draws', '1', '--epochs', '2', '--output', str(tmp_path)])
    printed = capsys.readouterr().out
    for method in ('LrRepurposer', 'SvmRepurposer', 'GpRepurposer', 'BnnRepurposer', 'FineTune (new fc2)',
                   'RandomFreeze (convs kept)', 'LeNet from scratch', 'LR on raw pixels'):
        assert '| {} | '.format(method) in printed
    uncertainty = printed.split('How sure are they?')[1]
    assert '| model | accuracy on digits 5-9 (target) | ECE on digits 5-9 (target) |' in uncertainty
    for method in ('LrRepurposer', 'GpRepurposer', 'BnnRepurposer'):
        assert '| {} | '.format(method) in uncertainty
    assert (tmp_path / 'quickstart.png').stat().st_size > 10000
    assert 'Figure saved to {}'.format(tmp_path / 'quickstart.png') in printed
