"""Benchmark ``ModelHandler.get_layer_output`` against a bare MXNet forward loop.

Run from the repository root::

    python benchmarks/feature_extraction.py                      # full table (25-40 min on 2 cores)
    python benchmarks/feature_extraction.py --sizes 1000 10000 --models lenet --repeats 2

For each network and sample count N it times, in one process and on the same iterator:

* **xfer**: ``ModelHandler.get_layer_output(iterator, [layer])``, which returns the
  ``(N, dims)`` feature matrix;
* **bare**: a module bound once to the same layer, running ``for batch in iterator: forward(batch)``
  and copying each batch's unpadded ``get_outputs()[0].asnumpy()`` into a feature matrix that
  was allocated (and zero-filled) once, before the timed runs.

Both are warmed up first (the first xfer call binds its module), then run alternately; the
best of the repeats is kept. A separate, untimed xfer call under ``tracemalloc`` measures the
peak memory numpy and Python allocate beyond the returned feature matrix (MXNet's own buffers
are not seen by ``tracemalloc``). A second table gives xfer's fixed cost per call (medians on a
one-batch iterator). The markdown tables are printed and written to ``--output``.
"""
import argparse
import cProfile
import datetime
import gc
import os
import platform
import pstats
import statistics
import sys
import time
import tracemalloc

import numpy as np

BENCHMARKS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCHMARKS_DIR)
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')  # no 'MKLDNN is activated' line per bind

import mxnet as mx  # noqa: E402

from xfer.model_handler import ModelHandler  # noqa: E402
from common import cpu_model, write_report  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

BATCH_SIZE = 128
DEFAULT_SIZES = (1000, 10000, 50000, 100000)
DEFAULT_MODELS = ('lenet', 'resnet18')
DEFAULT_OUTPUT = os.path.join(BENCHMARKS_DIR, 'results', 'feature_extraction.md')
WARMUP_SAMPLES = 2 * BATCH_SIZE + 1
LARGE_N = 50000
ONE_BATCH_REPEATS = 15
SEED = 0
MB = 1024 * 1024

FIXED_COST_HEADER = ('model', 'xfer ms per 1-batch call', 'bare ms per 1-batch run', 'xfer fixed cost ms')
TABLE_HEADER = ('model', 'N', 'layer (dims)', 'xfer samples/s', 'bare samples/s', 'xfer/bare', 'xfer/bare CPU time',
                'xfer s per 1k samples', 'xfer extra peak MB', 'extra / one batch of outputs')


# ------------------------------------------------------------------------------------ networks
def lenet_symbol():
    """LeNet-style CNN for 1x28x28 input, with the classic 500-unit fc1."""
    net = mx.sym.var('data')
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=20, name='conv1')
    net = mx.sym.Activation(net, act_type='relu', name='act1')
    net = mx.sym.Pooling(net, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool1')
    net = mx.sym.Convolution(net, kernel=(5, 5), num_filter=50, name='conv2')
    net = mx.sym.Activation(net, act_type='relu', name='act2')
    net = mx.sym.Pooling(net, pool_type='max', kernel=(2, 2), stride=(2, 2), name='pool2')
    net = mx.sym.Flatten(net, name='flatten')
    net = mx.sym.FullyConnected(net, num_hidden=500, name='fc1')
    net = mx.sym.Activation(net, act_type='relu', name='act3')
    net = mx.sym.FullyConnected(net, num_hidden=10, name='fc2')
    return mx.sym.SoftmaxOutput(net, name='softmax')


def lenet_module():
    """A bound LeNet module with random Xavier weights."""
    module = mx.mod.Module(lenet_symbol(), data_names=['data'], label_names=['softmax_label'])
    module.bind(data_shapes=[('data', (BATCH_SIZE, 1, 28, 28))],
                label_shapes=[('softmax_label', (BATCH_SIZE,))], for_training=False)
    module.init_params(initializer=mx.init.Xavier())
    return module


def resnet18_module():
    """A bound module of gluon's ResNet-18 v1 (10 classes, random weights), exported to a symbol."""
    net = mx.gluon.model_zoo.vision.resnet18_v1(classes=10)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 32, 32)))  # runs the deferred initialisation
    symbol = net(mx.sym.var('data'))
    params = {name: param.data() for name, param in net.collect_params().items()}
    aux_names = set(symbol.list_auxiliary_states())
    arg_params = {name: value for name, value in params.items() if name not in aux_names}
    aux_params = {name: value for name, value in params.items() if name in aux_names}
    module = mx.mod.Module(symbol, data_names=['data'], label_names=None)
    module.bind(data_shapes=[('data', (BATCH_SIZE, 3, 32, 32))], for_training=False)
    module.set_params(arg_params, aux_params)
    return module


MODELS = {
    'lenet': dict(build=lenet_module, input_shape=(1, 28, 28), layer='fc1'),
    'resnet18': dict(build=resnet18_module, input_shape=(3, 32, 32), layer='resnetv10_pool1_fwd'),
}


# ---------------------------------------------------------------------------------- runners
def random_iterator(num_samples, input_shape):
    """An NDArrayIter over seeded uniform float32 data; the last batch is padded."""
    data = np.random.default_rng(SEED).random((num_samples,) + tuple(input_shape), dtype=np.float32)
    iterator = mx.io.NDArrayIter(data, batch_size=BATCH_SIZE, last_batch_handle='pad')
    del data  # NDArrayIter keeps its own NDArray copy; drop the numpy one
    gc.collect()
    return iterator


def bare_layer_module(handler, layer, input_shape):
    """A module that outputs ``layer``, bound once, with the handler's params."""
    internals = handler.symbol.get_internals()
    module = mx.mod.Module(internals[layer + '_output'], data_names=['data'], label_names=None)
    module.bind(data_shapes=[('data', (BATCH_SIZE,) + tuple(input_shape))], for_training=False)
    module.set_params(handler.arg_params, handler.aux_params, allow_extra=True)
    return module


def run_xfer(handler, iterator, layer):
    """The ``(N, dims)`` features of ``layer`` as returned by xfer."""
    features, _ = handler.get_layer_output(iterator, [layer])
    return features[layer]


def run_bare(module, iterator, features):
    """Forward every batch and copy its unpadded output into the preallocated ``features`` matrix."""
    iterator.reset()
    row = 0
    for batch in iterator:
        module.forward(batch, is_train=False)
        valid = BATCH_SIZE - (batch.pad or 0)
        features[row:row + valid] = module.get_outputs()[0].asnumpy()[:valid].reshape(valid, -1)
        row += valid


def bare_outputs(module, iterator):
    """Like :func:`run_bare` but keeping the unpadded outputs (for the correctness check)."""
    iterator.reset()
    outputs = []
    for batch in iterator:
        module.forward(batch, is_train=False)
        valid = BATCH_SIZE - (batch.pad or 0)
        outputs.append(module.get_outputs()[0].asnumpy()[:valid].reshape(valid, -1))
    return np.concatenate(outputs)


def seconds(function, *args):
    """Wall-clock and CPU seconds (all threads of this process) of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - start, time.process_time() - start_cpu


def warm_up(handler, bare, layer, input_shape):
    """Bind xfer's module, prime both, and check that both extract the same features."""
    iterator = random_iterator(WARMUP_SAMPLES, input_shape)
    expected = bare_outputs(bare, iterator)
    features = run_xfer(handler, iterator, layer)
    if features.shape != expected.shape or not np.allclose(features, expected, rtol=1e-5, atol=1e-6):
        raise AssertionError('xfer and the bare loop disagree on {}: shapes {} vs {}'.format(
            layer, features.shape, expected.shape))
    return features.shape[1]


def xfer_extra_peak_bytes(handler, iterator, layer):
    """Peak memory tracemalloc sees (numpy, Python objects) in one xfer call, less the features."""
    gc.collect()
    tracemalloc.start()
    try:
        features = run_xfer(handler, iterator, layer)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - features.nbytes


def alternating_times(runs, repeats):
    """(wall, CPU) seconds of each run in ``runs`` (name -> callable), ``repeats`` times, order flipping each time."""
    times = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
            gc.collect()
            times[name].append(seconds(runs[name]))
    return times


def xfer_and_bare_runs(handler, bare, iterator, layer):
    """The two contestants as argument-free callables; the bare loop's matrix is allocated (and touched) once."""
    features = np.zeros((iterator.num_data, int(np.prod(bare.output_shapes[0][1][1:]))), dtype=np.float32)
    return {'xfer': lambda: run_xfer(handler, iterator, layer), 'bare': lambda: run_bare(bare, iterator, features)}


def best_times(handler, bare, iterator, layer, repeats):
    """Best xfer and bare (wall, CPU) seconds over ``repeats`` alternating runs, each taken on its own."""
    times = alternating_times(xfer_and_bare_runs(handler, bare, iterator, layer), repeats)
    return tuple(tuple(min(run[kind] for run in times[name]) for kind in (0, 1)) for name in ('xfer', 'bare'))


def one_batch_medians(handler, bare, layer, input_shape, repeats=ONE_BATCH_REPEATS):
    """Median seconds of xfer and bare on a one-batch iterator: xfer's fixed cost per call."""
    iterator = random_iterator(BATCH_SIZE, input_shape)
    times = alternating_times(xfer_and_bare_runs(handler, bare, iterator, layer), repeats)
    return statistics.median(run[0] for run in times['xfer']), statistics.median(run[0] for run in times['bare'])


def profile_xfer(handler, iterator, layer, top=12):
    """Print where one xfer call spends its time: shares by package, then the top functions."""
    profiler = cProfile.Profile()
    profiler.runcall(run_xfer, handler, iterator, layer)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    shares = time_shares(stats)
    print('  profile of one xfer call, {:.2f} s: '.format(stats.total_tt) + ', '.join(
        '{} {:.1%}'.format(group, seconds_in / stats.total_tt) for group, seconds_in in shares.items()))
    stats.sort_stats('tottime').print_stats(top)


def time_shares(stats):
    """Own (not cumulative) seconds per group: MXNet's Python code, xfer's, everything else."""
    shares = {'mxnet': 0.0, 'xfer': 0.0, 'other (builtins, numpy, stdlib)': 0.0}
    for (filename, _, _), (_, _, own_seconds, _, _) in stats.stats.items():
        if os.sep + 'mxnet' + os.sep in filename:
            shares['mxnet'] += own_seconds
        elif os.sep + 'xfer' + os.sep in filename:
            shares['xfer'] += own_seconds
        else:
            shares['other (builtins, numpy, stdlib)'] += own_seconds
    return shares


def default_repeats(num_samples):
    """3 repeats for small N, 2 from :data:`LARGE_N` on."""
    return 3 if num_samples < LARGE_N else 2


# ---------------------------------------------------------------------------------- reporting
def table_row(model_name, layer, dims, num_samples, xfer_times, bare_times, extra_bytes):
    """One markdown table row of formatted cells from the (wall, CPU) seconds of each side."""
    batch_bytes = BATCH_SIZE * dims * 4
    (xfer_s, xfer_cpu), (bare_s, bare_cpu) = xfer_times, bare_times
    return (model_name, '{:,}'.format(num_samples), '{} ({})'.format(layer, dims),
            '{:,.0f}'.format(num_samples / xfer_s), '{:,.0f}'.format(num_samples / bare_s),
            '{:.3f}'.format(bare_s / xfer_s), '{:.3f}'.format(bare_cpu / xfer_cpu),
            '{:.4f}'.format(1000 * xfer_s / num_samples),
            '{:.2f}'.format(extra_bytes / MB), '{:.2f}'.format(extra_bytes / batch_bytes))


def fixed_cost_row(model_name, xfer_s, bare_s):
    """One row of the per-call fixed cost table."""
    return (model_name, '{:.1f}'.format(1000 * xfer_s), '{:.1f}'.format(1000 * bare_s),
            '{:.1f}'.format(1000 * (xfer_s - bare_s)))


def markdown_table(rows, header=TABLE_HEADER):
    """The rows as a markdown table under ``header``."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)



def report(rows, fixed_cost_rows, args):
    """The results file: when, where and how it was run, then the tables."""
    command = 'python benchmarks/feature_extraction.py ' + ' '.join(sys.argv[1:])
    return '\n'.join([
        '# Feature extraction: xfer vs a bare MXNet loop', '',
        '- Date: {}'.format(datetime.date.today().isoformat()),
        '- Machine: {}, {} cores, Python {}'.format(cpu_model(), os.cpu_count(), platform.python_version()),
        '- MXNet {}, numpy {}'.format(mx.__version__, np.__version__),
        '- Command: `{}`'.format(command.strip()),
        '- Batch size {}, last batch padded; repeats: {}'.format(
            BATCH_SIZE, args.repeats or '3 (N < 50,000), 2 (N >= 50,000)'),
        '- xfer/bare is the throughput ratio (1.000 = no overhead); xfer/bare CPU time is the same ratio '
        'of the CPU seconds the process spent (all threads), which other jobs on a shared machine disturb '
        'less; extra peak memory is what numpy allocates during one xfer call beyond the returned '
        'feature matrix (tracemalloc).',
        '', markdown_table(rows), '',
        'Fixed cost of one call: median of {} alternating runs on a one-batch iterator; xfer minus '
        'bare is what each `get_layer_output` call adds, whatever N is.'.format(ONE_BATCH_REPEATS),
        '', markdown_table(fixed_cost_rows, FIXED_COST_HEADER), ''])


# --------------------------------------------------------------------------------------- main
def benchmark_model(model_name, sizes, repeats, profile=False):
    """Table rows for one network over all sizes (and a profile of xfer per size if asked),
    and its row of the fixed cost table."""
    spec = MODELS[model_name]
    handler = ModelHandler(spec['build']())
    bare = bare_layer_module(handler, spec['layer'], spec['input_shape'])
    dims = warm_up(handler, bare, spec['layer'], spec['input_shape'])
    fixed_cost = fixed_cost_row(model_name, *one_batch_medians(handler, bare, spec['layer'],
                                                                spec['input_shape']))
    print('({}: {} = {})'.format(model_name, ', '.join(FIXED_COST_HEADER[1:]), ', '.join(fixed_cost[1:])),
          flush=True)
    rows = []
    for num_samples in sizes:
        iterator = random_iterator(num_samples, spec['input_shape'])
        extra_bytes = xfer_extra_peak_bytes(handler, iterator, spec['layer'])
        xfer_times, bare_times = best_times(handler, bare, iterator, spec['layer'],
                                            repeats or default_repeats(num_samples))
        rows.append(table_row(model_name, spec['layer'], dims, num_samples, xfer_times, bare_times, extra_bytes))
        print(markdown_table(rows[-1:]).splitlines()[-1], flush=True)
        if profile:
            profile_xfer(handler, iterator, spec['layer'])
        del iterator
        gc.collect()
    return rows, fixed_cost


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=list(DEFAULT_SIZES),
                        help='sample counts N (default: %(default)s)')
    parser.add_argument('--models', nargs='+', choices=sorted(MODELS), default=list(DEFAULT_MODELS),
                        help='networks to run (default: %(default)s)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed runs of each side per N, best kept (default: 3, or 2 from N=50,000)')
    parser.add_argument('--profile', action='store_true',
                        help='after each row, profile one more xfer call with cProfile and print it')
    parser.add_argument('--output', default=DEFAULT_OUTPUT, help='markdown file (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(markdown_table([]), flush=True)
    rows, fixed_cost_rows = [], []
    for model_name in args.models:
        model_rows, fixed_cost = benchmark_model(model_name, args.sizes, args.repeats, args.profile)
        rows += model_rows
        fixed_cost_rows.append(fixed_cost)
    text = report(rows, fixed_cost_rows, args)
    write_report(text, args.output)


if __name__ == '__main__':
    main()
