"""Does Leap's learned initialisation train faster on a new task? Leap vs scratch, joint pretraining and Reptile.

Two task families: 10-shot sinusoid regression (``y = a sin(x + b)``) and 5-way image
classification from Fashion-MNIST classes with permuted labels. Each method gives an
initialisation of the same network; every held-out task is then trained from it with plain
SGD on its training points and scored on its own test points after each adaptation budget.
Also times one inner training step with and without Leap's bookkeeping.

    python benchmarks/leap.py --families sinusoid               # about 10 min on 2 busy cores
    python benchmarks/leap.py --families images --append        # about 10 min, added to the same report
    python benchmarks/leap.py --step-times                      # only the CPU time per inner step (a minute)
    python benchmarks/leap.py --sinusoid-meta-iterations 20 --image-meta-iterations 5 --eval-tasks 10 \
        --output /tmp/leap.md                                   # quick check
"""
import argparse
import functools
import os
import sys
import time

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from xfer import datasets  # noqa: E402
from xfer.contrib.xfer_leap import (Leap, LeapMetaRepurposer, Task, copy_model, image_class_tasks,  # noqa: E402
                                    sinusoid_tasks, split_task, train_on_task)
from common import cpu_model, write_report  # noqa: E402

BASELINES = ('scratch', 'joint pretraining', 'Reptile')


class Family:
    """A task family: its network, loss, inner learning rate and steps, tasks and score."""

    def __init__(self, name, build_network, loss_class, inner_lr, inner_steps, budgets, train_tasks, eval_tasks,
                 score_name, score, meta_iterations, meta_lrs, reptile_step):
        self.name, self.build_network, self.loss_class = name, build_network, loss_class
        self.inner_lr, self.inner_steps, self.budgets = inner_lr, inner_steps, budgets
        self.train_tasks, self.eval_tasks = train_tasks, eval_tasks
        self.score_name, self.score = score_name, score
        self.meta_iterations, self.meta_lrs, self.reptile_step = meta_iterations, meta_lrs, reptile_step

    @property
    def leap_methods(self):
        return ['Leap (meta lr {})'.format(meta_lr) for meta_lr in self.meta_lrs]

    @property
    def methods(self):
        return list(BASELINES) + self.leap_methods


def sinusoid_family(args):
    def build_network():
        net = gluon.nn.Sequential()
        net.add(gluon.nn.Dense(40, in_units=1, activation='tanh'), gluon.nn.Dense(40, in_units=40, activation='tanh'),
                gluon.nn.Dense(1, in_units=40))
        net.initialize(mx.init.Xavier())
        return net

    train = sinusoid_tasks(args.train_tasks, num_points=10, seed=1)
    held_out = [split_task(task, 10) for task in sinusoid_tasks(args.eval_tasks, num_points=60, seed=2)]
    return Family('sinusoid', build_network, gluon.loss.L2Loss, 0.01, 32, (1, 5, 32), train, held_out,
                  'test MSE', mean_squared_error, args.sinusoid_meta_iterations, args.sinusoid_meta_lr,
                  args.reptile_step)


def image_family(args):
    def build_network():
        net = gluon.nn.Sequential()
        net.add(gluon.nn.Dense(64, in_units=196, activation='relu'), gluon.nn.Dense(5, in_units=64))
        net.initialize(mx.init.Xavier())
        return net

    def load(split, limit):
        images, labels = datasets.load_fashion_mnist(split, limit=limit)
        return images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(-1, 196), labels

    train = image_class_tasks(*load('train', 20000), num_tasks=args.train_tasks, num_ways=5, num_per_class=10, seed=1)
    held_out = [split_task(task, 50) for task in image_class_tasks(*load('t10k', None), num_tasks=args.eval_tasks,
                                                                     num_ways=5, num_per_class=30, seed=2)]
    return Family('Fashion-MNIST 5-way', build_network, gluon.loss.SoftmaxCrossEntropyLoss, 0.1, 100, (10, 30, 100),
                  train, held_out, 'test accuracy', accuracy, args.image_meta_iterations, args.image_meta_lr,
                  args.reptile_step)


def mean_squared_error(outputs, targets):
    return float(np.mean((outputs - targets) ** 2))


def accuracy(outputs, targets):
    return float(np.mean(outputs.argmax(axis=1) == targets))


def initialisations(family, args):
    """Each method's initialisation of the family's network, and the seconds it took."""
    mx.random.seed(0)
    start = family.build_network()
    made, seconds = {'scratch': start}, {'scratch': 0.0}
    makers = [('joint pretraining', joint_pretraining), ('Reptile', reptile)] + [
        (method, functools.partial(leap, meta_lr=meta_lr)) for method, meta_lr in zip(family.leap_methods,
                                                                                      family.meta_lrs)]
    for method, make in makers:
        began = time.perf_counter()
        made[method] = make(copy_model(start), family, args)
        seconds[method] = time.perf_counter() - began
        print('{}: {} in {:.0f} s'.format(family.name, method, seconds[method]), flush=True)
    return made, seconds


def meta_batches(family, args):
    rng = np.random.default_rng(3)
    for _ in range(family.meta_iterations):
        yield [family.train_tasks[i] for i in rng.choice(len(family.train_tasks), args.meta_batch, replace=False)]


def joint_pretraining(net, family, args):
    """One network trained on the pooled data of the same meta-batches, as many steps as an inner loop each."""
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.001})
    loss_function = family.loss_class()
    for batch in meta_batches(family, args):
        pooled = Task(tuple(np.concatenate(parts) for parts in zip(*batch)), 0)
        train_on_task(net, pooled, loss_function, trainer, family.inner_steps, mx.cpu())
    return net


def reptile(net, family, args):
    """Reptile: move the initialisation a fraction of the way to the mean of the tasks' trained parameters."""
    params = list(net.collect_params().values())
    initial = [param.data().copy() for param in params]
    loss_function = family.loss_class()
    for batch in meta_batches(family, args):
        trained = [mx.nd.zeros_like(value) for value in initial]
        for task in batch:
            for param, value in zip(params, initial):
                value.copyto(param.data())
            trainer = gluon.Trainer(params, 'sgd', {'learning_rate': family.inner_lr})
            train_on_task(net, Task(task, 0), loss_function, trainer, family.inner_steps, mx.cpu())
            for total, param in zip(trained, params):
                total += param.data()
        for value, total in zip(initial, trained):
            value += family.reptile_step * (total / len(batch) - value)
    for param, value in zip(params, initial):
        value.copyto(param.data())
    return net


def leap(net, family, args, meta_lr):
    """Leap through LeapMetaRepurposer, on the same meta-batches (given one at a time)."""
    repurposer = LeapMetaRepurposer(net, 1, family.inner_steps, loss_class=family.loss_class,
                                    meta_optimizer_params={'learning_rate': meta_lr},
                                    task_optimizer_params={'learning_rate': family.inner_lr},
                                    verbosity=0, show_progress=False)
    for batch in meta_batches(family, args):
        repurposer.repurpose(batch)
    return repurposer.model


def evaluate(net, family):
    """Per budget: the mean test score and the mean area under the training-loss curve (mean loss per step)."""
    scores = {budget: [] for budget in family.budgets}
    areas = {budget: [] for budget in family.budgets}
    loss_function = family.loss_class()
    for (train, test) in family.eval_tasks:
        model = copy_model(net)
        trainer = gluon.Trainer(model.collect_params(), 'sgd', {'learning_rate': family.inner_lr})
        task, losses = Task(train, 0), []
        for step in range(1, max(family.budgets) + 1):
            losses += train_on_task(model, task, loss_function, trainer, 1, mx.cpu())
            if step in scores:
                scores[step].append(family.score(model(mx.nd.array(test[0])).asnumpy(), test[1]))
                areas[step].append(float(np.mean(losses)))
    return {budget: (float(np.mean(scores[budget])), float(np.mean(areas[budget]))) for budget in family.budgets}


def step_seconds(family, steps=32, tasks=10, repeats=7):
    """CPU seconds per inner step of three loops over the same tasks, alternating, best of ``repeats``:
    ``train_on_task`` without and with Leap's bookkeeping, and the bare Gluon loop (forward, backward,
    step, nothing else). CPU time of the process (all its threads), so that other jobs on a shared
    machine disturb it less than wall time."""
    net = family.build_network()
    task_list = [Task(task, i) for i, task in enumerate(family.train_tasks[:tasks])]
    loss_function = family.loss_class()
    best = {'plain': np.inf, 'Leap': np.inf, 'bare': np.inf}
    for _ in range(repeats):
        for kind in best:
            leap_state = Leap(net) if kind == 'Leap' else None
            began = time.process_time()
            for task in task_list:
                if leap_state is not None:
                    leap_state.start_task()
                trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': family.inner_lr})
                if kind == 'bare':
                    bare_gluon_loop(net, task, loss_function, trainer, steps)
                else:
                    train_on_task(net, task, loss_function, trainer, steps, mx.cpu(), leap=leap_state)
            mx.nd.waitall()
            best[kind] = min(best[kind], (time.process_time() - began) / (steps * tasks))
    return best


def bare_gluon_loop(net, task, loss_function, trainer, steps):
    data, label = task.first_batch(mx.cpu())
    for _ in range(steps):
        with autograd.record():
            loss = loss_function(net(data), label).mean()
        loss.backward()
        trainer.step(1)


def family_report(family, args):
    made, seconds = initialisations(family, args)
    results = {method: evaluate(made[method], family) for method in family.methods}
    better = 'lower' if family.score_name == 'test MSE' else 'higher'
    lines = ['## {}'.format(family.name), '',
             '{} held-out tasks; {} meta-iterations of {} tasks, {} inner SGD steps at lr {}; Leap with an SGD '
             'meta-optimiser; Reptile step {}.'.format(len(family.eval_tasks), family.meta_iterations, args.meta_batch,
                                                      family.inner_steps, family.inner_lr, family.reptile_step), '',
             '{} after each adaptation budget ({} is better), mean over held-out tasks:'.format(family.score_name,
                                                                                                better), '',
             '| method | ' + ' | '.join('{} steps'.format(b) for b in family.budgets) + ' | meta-training s |',
             '|---|' + '---:|' * (len(family.budgets) + 1)]
    for method in family.methods:
        lines.append('| {} | '.format(method) + ' | '.join(
            '{:.3f}'.format(results[method][b][0]) for b in family.budgets) + ' | {:.0f} |'.format(seconds[method]))
    lines += ['', 'Area under the training-loss curve (mean training loss over the first steps; lower is better):', '',
              '| method | ' + ' | '.join('{} steps'.format(b) for b in family.budgets) + ' |',
              '|---|' + '---:|' * len(family.budgets)]
    for method in family.methods:
        lines.append('| {} | '.format(method) + ' | '.join(
            '{:.3f}'.format(results[method][b][1]) for b in family.budgets) + ' |')
    lines.append('')
    for method in family.leap_methods:
        misses = ['{} at {} steps'.format(other, b) for b in family.budgets
                  for other in ('scratch', 'joint pretraining')
                  if not compare(results[method][b][0], results[other][b][0], better)]
        lines.append('{} beats scratch and joint pretraining on {} (to 3 decimals) at every budget: **{}**{}.'.format(
            method, family.score_name, 'no' if misses else 'yes',
            ' (not better than {})'.format(', '.join(misses)) if misses else ''))
    lines += ['', step_time_line(family), '']
    return '\n'.join(lines)


def step_time_line(family):
    """The report's line on the CPU time per inner step, with and without Leap and in a bare Gluon loop."""
    seconds_per_step = step_seconds(family)
    plain, with_leap, bare = (seconds_per_step[kind] for kind in ('plain', 'Leap', 'bare'))
    return ('CPU time per inner step: `train_on_task` without Leap {:.3f} ms, with Leap {:.3f} ms: **{:.2f}x** '
            '(target <= 1.3x); bare Gluon loop (forward, backward, step) {:.3f} ms, so with Leap {:.2f}x the bare '
            'loop.'.format(plain * 1e3, with_leap * 1e3, with_leap / plain, bare * 1e3, with_leap / bare))


def compare(leap_score, other_score, better):
    """Whether Leap's score is better, as the tables show them (3 decimals): a tie is not a win."""
    leap_score, other_score = round(leap_score, 3), round(other_score, 3)
    return leap_score < other_score if better == 'lower' else leap_score > other_score


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--families', nargs='+', choices=('sinusoid', 'images'), default=['sinusoid', 'images'])
    parser.add_argument('--sinusoid-meta-iterations', type=int, default=200)
    parser.add_argument('--image-meta-iterations', type=int, default=40)
    parser.add_argument('--meta-batch', type=int, default=5)
    parser.add_argument('--train-tasks', type=int, default=1000)
    parser.add_argument('--eval-tasks', type=int, default=50)
    parser.add_argument('--sinusoid-meta-lr', type=float, nargs='+', default=[0.01])
    parser.add_argument('--image-meta-lr', type=float, nargs='+', default=[0.002, 0.01])
    parser.add_argument('--reptile-step', type=float, default=0.5)
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'leap.md'))
    parser.add_argument('--append', action='store_true',
                        help='add the sections to the end of --output (run the families one at a time)')
    parser.add_argument('--step-times', action='store_true',
                        help='only print the CPU time per inner step of each family (no meta-training, no report)')
    args = parser.parse_args(argv)
    builders = {'sinusoid': sinusoid_family, 'images': image_family}
    if args.step_times:
        for name in args.families:
            print('{}: {}'.format(name, step_time_line(builders[name](args))), flush=True)
        return
    sections = [family_report(builders[name](args), args) for name in args.families]
    run = ['{} | MXNet {} | {} | OMP_NUM_THREADS={} | machine shared with other jobs while it ran'.format(
               time.strftime('%Y-%m-%d'), mx.__version__, cpu_model(), os.environ.get('OMP_NUM_THREADS', 'unset')),
           '', 'Command: `python benchmarks/leap.py {}`'.format(' '.join(argv if argv is not None else sys.argv[1:])),
           '']
    if args.append:
        with open(args.output) as existing:
            run = [existing.read().rstrip('\n'), ''] + run
    else:
        run = ['# Leap: learned initialisation vs scratch, joint pretraining and Reptile', ''] + run
    write_report('\n'.join(run + sections), args.output)


if __name__ == '__main__':
    main()
