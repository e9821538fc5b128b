"""Leap's meta-gradient against a step-by-step numpy reference, and its use in a Gluon loop."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from tests.contrib.leap_reference import loss_went_up, task_meta_gradient
from tests.contrib.networks import small_network
from xfer.contrib.xfer_leap import Leap, Task, sinusoid_tasks, train_on_task

NUM_STEPS = 6
LEARNING_RATE = 0.9  # large enough that some steps raise the loss, so the stabiliser matters


def as_reference_params(net):
    """The network's parameters under the reference's names (w1, b1, w2, b2)."""
    values = [param.data().asnumpy() for param in net.collect_params().values()]
    return dict(zip(['w1', 'b1', 'w2', 'b2'], values))


def tasks(count=3):
    return sinusoid_tasks(count, num_points=8, seed=11)


def leap_meta_gradient(net, task_list, norm, stabilizer, window=16):
    """Leap's meta-gradient over ``task_list``, each trained by the shared training loop."""
    leap = Leap(net, norm=norm, stabilizer=stabilizer, window=window)
    for index, task in enumerate(task_list):
        leap.start_task()
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LEARNING_RATE})
        train_on_task(net, Task(task, index), gluon.loss.L2Loss(), trainer, NUM_STEPS, mx.cpu(), leap=leap)
    return dict(zip(['w1', 'b1', 'w2', 'b2'], [gradient.asnumpy() for gradient in leap.meta_gradient()]))


def reference_meta_gradient(initial, task_list, norm, stabilizer):
    per_task = [task_meta_gradient(initial, task, NUM_STEPS, LEARNING_RATE, norm, stabilizer) for task in task_list]
    return {name: np.mean([gradient[name] for gradient in per_task], axis=0) for name in initial}


def assert_gradients_close(actual, expected):
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=2e-3, atol=2e-5, err_msg=name)


def test_some_step_of_the_test_tasks_raises_the_loss():
    initial = as_reference_params(small_network())
    assert any(loss_went_up(initial, task, NUM_STEPS, LEARNING_RATE) for task in tasks())


@pytest.mark.parametrize('norm', [True, False], ids=['norm', 'no-norm'])
@pytest.mark.parametrize('stabilizer', [True, False], ids=['stabilizer', 'no-stabilizer'])
@pytest.mark.parametrize('window', [1, 4, 16], ids=lambda window: 'window{}'.format(window))
def test_meta_gradient_equals_the_numpy_reference(norm, stabilizer, window):
    net = small_network()
    initial = as_reference_params(net)
    actual = leap_meta_gradient(net, tasks(), norm, stabilizer, window)
    assert_gradients_close(actual, reference_meta_gradient(initial, tasks(), norm, stabilizer))


def test_stabilizer_and_norm_change_the_gradient():
    gradients = {(norm, stabilizer): leap_meta_gradient(small_network(), tasks(), norm, stabilizer)['w1']
                 for norm in (True, False) for stabilizer in (True, False)}
    for first in gradients:
        for second in gradients:
            if first != second:
                assert not np.allclose(gradients[first], gradients[second], rtol=1e-3), (first, second)


def test_meta_gradient_is_the_mean_over_tasks_whatever_their_order():
    task_list = tasks()
    forward = leap_meta_gradient(small_network(), task_list, True, True)
    backward = leap_meta_gradient(small_network(), task_list[::-1], True, True)
    singles = [leap_meta_gradient(small_network(), [task], True, True) for task in task_list]
    for name in forward:
        np.testing.assert_allclose(forward[name], backward[name], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(forward[name], np.mean([single[name] for single in singles], axis=0),
                                   rtol=1e-5, atol=1e-7)


def test_gradient_of_the_summed_loss_with_grad_scale_gives_the_same_meta_gradient():
    inputs, targets = (mx.nd.array(part) for part in tasks(1)[0])
    loss_function = gluon.loss.L2Loss()
    results = []
    for summed in (False, True):
        net = small_network()
        leap = Leap(net)
        leap.start_task()
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LEARNING_RATE})
        for _ in range(NUM_STEPS):
            with autograd.record():
                losses = loss_function(net(inputs), targets)
                objective = losses.sum() if summed else losses.mean()
            objective.backward()
            leap.update(losses.mean(), grad_scale=len(inputs) if summed else 1.0)
            trainer.step(len(inputs) if summed else 1)
        leap.end_task(loss_function(net(inputs), targets).mean())
        results.append(leap.meta_gradient()[0].asnumpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-7)


def test_meta_step_moves_the_initialisation_against_the_meta_gradient():
    net = small_network()
    before = [param.data().asnumpy() for param in net.collect_params().values()]
    leap = Leap(net, meta_optimizer='sgd', meta_optimizer_params={'learning_rate': 0.05})
    for index, task in enumerate(tasks()):
        leap.start_task()
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': LEARNING_RATE})
        train_on_task(net, Task(task, index), gluon.loss.L2Loss(), trainer, NUM_STEPS, mx.cpu(), leap=leap)
    gradient = [value.asnumpy() for value in leap.meta_gradient()]
    leap.meta_step()
    after = [param.data().asnumpy() for param in net.collect_params().values()]
    for old, new, step in zip(before, after, gradient):
        np.testing.assert_allclose(new, old - 0.05 * step, rtol=1e-5, atol=1e-7)
    assert leap.num_tasks == 0


def test_task_forms_give_the_same_meta_gradient():
    inputs, targets = tasks(1)[0]
    forms = [(inputs, targets),
             mx.io.NDArrayIter(inputs, targets, batch_size=len(inputs)),
             gluon.data.DataLoader(gluon.data.ArrayDataset(inputs, targets), batch_size=len(inputs))]
    gradients = [leap_meta_gradient(small_network(), [form], True, True)['w2'] for form in forms]
    for gradient in gradients[1:]:
        np.testing.assert_allclose(gradient, gradients[0], rtol=1e-6)


def test_leap_refuses_a_non_block_and_an_uninitialised_model():
    with pytest.raises(TypeError, match='must be an mxnet.gluon.Block, got Module'):
        Leap(mx.mod.Module(mx.sym.Variable('data'), label_names=None))
    net = gluon.nn.Dense(2)
    net.initialize()
    with pytest.raises(ValueError, match='is not initialised: call model.initialize'):
        Leap(net)


def test_meta_gradient_before_any_task_is_an_error():
    leap = Leap(small_network())
    with pytest.raises(RuntimeError, match='no task finished'):
        leap.meta_gradient()
    with pytest.raises(RuntimeError, match='end_task\\(\\) without a training step'):
        leap.end_task()
    with pytest.raises(RuntimeError, match='update\\(\\) before start_task\\(\\)'):
        leap.update(1.0)
    with pytest.raises(ValueError, match='window must be an integer of at least 1, got 0'):
        Leap(small_network(), window=0)


def test_update_before_start_task_and_a_bad_window_are_errors():
    with pytest.raises(RuntimeError, match=r'update\(\) before start_task\(\)'):
        Leap(small_network()).update(1.0)
    with pytest.raises(ValueError, match='window must be an integer of at least 1, got 0'):
        Leap(small_network(), window=0)
