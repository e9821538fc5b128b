"""LeapMetaRepurposer: the talk's code, meta-steps, reports, adaptation, saving and bad inputs."""
import re

import matplotlib
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

import xfer.contrib.xfer_leap as leap
from tests.contrib.leap_reference import task_meta_gradient
from tests.contrib.networks import small_network
from tests.saved_files import companion, reseal
from xfer.contrib.xfer_leap import LeapMetaRepurposer, MetaLogger, image_class_tasks, sinusoid_tasks
from xfer.serialization import SavedFileError

matplotlib.use('Agg')

TASK_LEARNING_RATE = 0.1


def params_of(net):
    return [param.data().asnumpy().copy() for param in net.collect_params().values()]


def repurposer(net, **options):
    settings = dict(num_meta_steps=2, num_epochs=4, verbosity=0, show_progress=False,
                    task_optimizer_params={'learning_rate': TASK_LEARNING_RATE})
    settings.update(options)
    return LeapMetaRepurposer(net, **settings)


def meta_trained(net, tasks, repurpose_options=None, **options):
    lmr = repurposer(net, **options)
    assert lmr.repurpose(tasks, **(repurpose_options or {})) is None  # as in Xfer: the model changes in place
    return lmr


def test_the_talks_four_lines_run_unchanged(capsys):
    model = small_network(hidden=8)
    num_meta_steps, num_epochs = 3, 5
    train_data_all = sinusoid_tasks(4, num_points=10, seed=0)

    import xfer.contrib.xfer_leap as leap
    lmr = leap.leap_meta_reposer.LeapMetaRepurposer(model, num_meta_steps, num_epochs)
    lmr.repurpose(train_data_all)
    lmr.meta_logger.plot_losses()

    lines = capsys.readouterr().out.splitlines()
    assert [line.split(', Mean Loss')[0] for line in lines] == [
        'Metastep: {}, Num tasks: 4'.format(step) for step in range(3)]
    assert leap.leap_meta_reposer is leap.leap_meta_repurposer


def test_one_meta_step_moves_the_initialisation_against_the_mean_meta_gradient():
    net = small_network()
    initial = dict(zip(['w1', 'b1', 'w2', 'b2'], params_of(net)))
    tasks = sinusoid_tasks(3, num_points=8, seed=5)
    meta_trained(net, tasks, num_meta_steps=1, meta_optimizer_params={'learning_rate': 0.02})
    per_task = [task_meta_gradient(initial, task, 4, TASK_LEARNING_RATE, True, True) for task in tasks]
    for (name, start), learned in zip(initial.items(), params_of(net)):
        expected = start - 0.02 * np.mean([gradient[name] for gradient in per_task], axis=0)
        np.testing.assert_allclose(learned, expected, rtol=1e-4, atol=1e-6, err_msg=name)
        assert not np.allclose(learned, start)


def test_logger_records_every_task_under_its_own_id_and_the_report_lines(capsys):
    tasks = sinusoid_tasks(3, num_points=8, seed=5)
    lmr = meta_trained(small_network(), tasks, verbosity=2)
    records = lmr.meta_logger.records
    assert [(record['metastep'], record['task']) for record in records] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1),
                                                                            (1, 2)]
    assert all(len(record['losses']) == 4 for record in records)
    assert all(record['losses'][-1] < record['losses'][0] for record in records)
    lines = capsys.readouterr().out.splitlines()
    first = records[0]['losses']
    assert lines[0] == '    Metastep: 0, Task: 0, Initial Loss: {:.3f}, Final Loss: {:.3f}, Loss delta: {:.3f}'.format(
        first[0], first[-1], first[-1] - first[0])
    mean_final = np.mean([record['losses'][-1] for record in records[:3]])
    assert lines[3] == 'Metastep: 0, Num tasks: 3, Mean Loss: {:.3f}'.format(mean_final)
    assert len(lines) == 8


@pytest.mark.parametrize('verbosity, expected_lines', [(0, 0), (1, 2), (2, 2 + 2 * 3), (3, 2 + 2 * 3 + 2 * 3 * 4)])
def test_verbosity_levels(capsys, verbosity, expected_lines):
    meta_trained(small_network(), sinusoid_tasks(3, num_points=8, seed=5), verbosity=verbosity)
    assert len(capsys.readouterr().out.splitlines()) == expected_lines


def test_report_lines_have_the_talks_format():
    logger = MetaLogger()
    logger.start_task(1, 0)
    for loss in (778.318, 300.0, 25.655):
        logger.log_loss(loss)
    assert logger.task_line() == ('    Metastep: 1, Task: 0, Initial Loss: 778.318, Final Loss: 25.655, '
                                  'Loss delta: -752.663')
    assert logger.epoch_line() == '        Metastep: 1, Task: 0, Epoch: 3, Loss: 25.655'
    logger.start_task(1, 1)
    logger.log_loss(60.993)
    assert logger.metastep_line(1) == 'Metastep: 1, Num tasks: 2, Mean Loss: 43.324'


def test_plot_losses_works_with_one_task_and_without_logged_params():
    lmr = meta_trained(small_network(), sinusoid_tasks(1, num_points=8, seed=5))
    figure = lmr.meta_logger.plot_losses()
    assert [axis.get_xlabel() for axis in figure.axes] == ['meta-step', 'epoch']
    with pytest.raises(ValueError, match='no parameters logged: create the repurposer with log_params=True'):
        lmr.meta_logger.plot_params('weight')
    with pytest.raises(ValueError, match='nothing logged yet'):
        MetaLogger().plot_losses()


def test_plot_params_draws_a_two_parameter_model_with_its_loss_surface():
    net = gluon.nn.Dense(1, in_units=2, use_bias=False)
    net.initialize()
    tasks = [(np.random.default_rng(seed).normal(size=(20, 2)).astype(np.float32),
              np.random.default_rng(seed).normal(size=(20, 1)).astype(np.float32)) for seed in range(2)]
    lmr = meta_trained(net, tasks, log_params=True)
    name = list(net.collect_params())[0]
    assert len(lmr.meta_logger.records[0]['params']) == 4
    figure = lmr.meta_logger.plot_params(name, loss_surface=lambda task, values: float(np.mean(
        0.5 * (tasks[task][0] @ values - tasks[task][1][:, 0]) ** 2)))
    assert len(figure.axes) == 4  # two tasks, each with its colour bar
    with pytest.raises(ValueError, match="no parameter named 'nope'"):
        lmr.meta_logger.plot_params('nope')


def test_classification_tasks_train_with_a_classification_loss():
    images = np.random.default_rng(0).uniform(size=(60, 1, 4, 4)).astype(np.float32)
    labels = np.repeat(np.arange(6), 10)
    tasks = image_class_tasks(images, labels, num_tasks=3, num_ways=3, num_per_class=5, seed=1)
    net = gluon.nn.Dense(3, in_units=16)
    net.initialize()
    lmr = meta_trained(net, tasks, loss_class=gluon.loss.SoftmaxCrossEntropyLoss, num_epochs=10,
                       task_optimizer_params={'learning_rate': 0.5})
    assert all(record['losses'][-1] < record['losses'][0] for record in lmr.meta_logger.records)


def test_adapt_trains_a_copy_and_leaves_the_initialisation():
    net = small_network()
    lmr = meta_trained(net, sinusoid_tasks(3, num_points=8, seed=5))
    learned = params_of(net)
    new_task = sinusoid_tasks(1, num_points=8, seed=99)[0]
    adapted, losses = lmr.adapt(new_task, num_epochs=6, return_losses=True)
    assert adapted is not net and len(losses) == 6 and losses[-1] < losses[0]
    for before, after in zip(learned, params_of(net)):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(params_of(adapted)[0], learned[0])
    np.testing.assert_allclose(adapted(mx.nd.array(new_task[0])).shape, (8, 1))


def test_meta_batches_with_and_without_replacement():
    tasks = sinusoid_tasks(5, num_points=8, seed=5)
    lmr = meta_trained(small_network(), tasks, {'meta_batch_size': 2}, num_meta_steps=5, num_epochs=1, seed=0)
    drawn = [record['task'] for record in lmr.meta_logger.records]
    assert len(drawn) == 10 and sorted(drawn[:5]) == [0, 1, 2, 3, 4]
    lmr = meta_trained(small_network(), tasks, {'meta_batch_size': 4, 'with_replacement': True}, num_meta_steps=3,
                       num_epochs=1, seed=0)
    assert len(lmr.meta_logger.records) == 12


def test_save_and_load_round_trip(tmp_path):
    net = small_network()
    lmr = meta_trained(net, sinusoid_tasks(3, num_points=8, seed=5))
    prefix = str(tmp_path / 'init')
    lmr.save(prefix)
    other = repurposer(small_network(seed=8)).load(prefix)
    for saved, loaded in zip(params_of(net), params_of(other.model)):
        np.testing.assert_array_equal(saved, loaded)
    assert other.meta_steps_done == 2


def test_loading_a_bad_file_names_it(tmp_path):
    lmr = meta_trained(small_network(), sinusoid_tasks(2, num_points=8, seed=5))
    prefix = str(tmp_path / 'init')
    lmr.save(prefix)
    with pytest.raises(SavedFileError, match='does not fit this model'):
        repurposer(small_network(hidden=5)).load(prefix)
    params_path = companion(prefix + '.json', '.params')
    with open(params_path, 'r+b') as params_file:
        params_file.truncate(40)
    with pytest.raises(SavedFileError, match=re.escape(params_path) + '.*SHA-256 differs'):
        repurposer(small_network()).load(prefix)
    reseal(prefix + '.json')
    with pytest.raises(SavedFileError, match=re.escape(params_path) + '.*does not fit this model'):
        repurposer(small_network()).load(prefix)
    with open(prefix + '.json', 'w') as json_file:
        json_file.write('{"format": "something else"}')
    with pytest.raises(SavedFileError, match="not a saved Leap initialisation"):
        repurposer(small_network()).load(prefix)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        repurposer(small_network()).load(str(tmp_path / 'missing'))


def test_bad_inputs_get_clear_errors():
    with pytest.raises(TypeError, match='model must be an mxnet.gluon.Block .* got Module'):
        LeapMetaRepurposer(mx.mod.Module(mx.sym.Variable('data'), label_names=None), 1, 1)
    with pytest.raises(ValueError, match='num_meta_steps must be an integer of at least 1, got 0'):
        LeapMetaRepurposer(small_network(), 0, 1)
    lmr = repurposer(small_network())
    with pytest.raises(ValueError, match='train_tasks is empty'):
        lmr.repurpose([])
    good = sinusoid_tasks(1, num_points=8, seed=5)[0]
    with pytest.raises(ValueError, match=r'task 1: X has 8 rows but y has 7'):
        lmr.repurpose([good, (good[0], good[1][:7])])
    with pytest.raises(ValueError, match=r'task 1: a batch with data of shape \(8, 3\) .* does not fit the model'):
        lmr.repurpose([good, (np.zeros((8, 3), np.float32), good[1])])
    with pytest.raises(ValueError, match='task 0 has no training data'):
        lmr.repurpose([[]])
    with pytest.raises(TypeError, match='task 0 is a int: expected a numpy'):
        lmr.repurpose([5])
    with pytest.raises(ValueError, match=r'task 0: batch 0 is a str, expected a \(data, label\) pair'):
        lmr.repurpose(['not a batch'])
    with pytest.raises(TypeError, match='train_tasks must be a list of tasks'):
        lmr.repurpose(good)
    with pytest.raises(ValueError, match='meta_batch_size must be an integer of at least 1'):
        lmr.repurpose([good], meta_batch_size=0)
    uninitialised = gluon.nn.Dense(1)
    with pytest.raises(ValueError, match='call model.initialize'):
        repurposer(uninitialised).repurpose([good])


def test_progress_bar_over_meta_steps_shows_the_mean_loss(capsys):
    meta_trained(small_network(), sinusoid_tasks(2, num_points=8, seed=5), num_meta_steps=3, show_progress=True)
    progress = capsys.readouterr().err
    assert 'meta-training' in progress and '/3 ' in progress and 'mean_loss=' in progress
