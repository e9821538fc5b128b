"""Records of meta-training: every task's per-epoch losses (and parameters), report lines, plots."""
import numpy as np


class MetaLogger:
    """Losses (and optionally parameters) of every task trained in every meta-step.

    Attributes
    ----------
    records : list of dict
        One per trained task, in training order: ``metastep``, ``task`` (the task's index in
        the list given to ``repurpose``), ``losses`` (mean training loss of each epoch) and,
        when parameters are logged, ``params`` (one dict of name to numpy array per epoch).
    initial_params : dict of int to dict
        Per meta-step, the initialisation the tasks started from (when parameters are logged).
    """

    def __init__(self):
        self.records = []
        self.initial_params = {}

    def reset(self):
        """Forget everything logged."""
        self.records = []
        self.initial_params = {}

    def start_task(self, metastep, task):
        """Open the record of ``task`` trained in ``metastep``."""
        self.records.append({'metastep': metastep, 'task': task, 'losses': []})

    def log_loss(self, loss):
        """Append one epoch's mean training loss to the open record."""
        self.records[-1]['losses'].append(float(loss))

    def log_params(self, model):
        """Append a copy of the model's parameters to the open record."""
        self.records[-1].setdefault('params', []).append(_params_as_numpy(model))

    def log_initial_params(self, metastep, model):
        """Remember the initialisation the tasks of ``metastep`` start from."""
        self.initial_params.setdefault(metastep, _params_as_numpy(model))

    def epoch_line(self):
        """The report line of the open record's latest epoch."""
        record = self.records[-1]
        return '        Metastep: {}, Task: {}, Epoch: {}, Loss: {:.3f}'.format(
            record['metastep'], record['task'], len(record['losses']), record['losses'][-1])

    def task_line(self):
        """The report line of the open record: its first and last epoch's loss."""
        record = self.records[-1]
        initial, final = record['losses'][0], record['losses'][-1]
        return '    Metastep: {}, Task: {}, Initial Loss: {:.3f}, Final Loss: {:.3f}, Loss delta: {:.3f}'.format(
            record['metastep'], record['task'], initial, final, final - initial)

    def metastep_line(self, metastep):
        """The report line of ``metastep``: how many tasks it trained and their mean final loss."""
        finals = self.final_losses(metastep)
        return 'Metastep: {}, Num tasks: {}, Mean Loss: {:.3f}'.format(metastep, len(finals), float(np.mean(finals)))

    def final_losses(self, metastep):
        """The last epoch's loss of every task trained in ``metastep`` (its records are contiguous, so
        the latest meta-step is found at the end without reading every record)."""
        finals = []
        for record in reversed(self.records):
            if record['metastep'] == metastep:
                finals.append(record['losses'][-1])
            elif finals:
                break
        return finals[::-1]

    def mean_final_losses(self):
        """Meta-steps in order and the mean final loss of each one's tasks."""
        metasteps = sorted({record['metastep'] for record in self.records})
        return metasteps, [float(np.mean(self.final_losses(metastep))) for metastep in metasteps]

    def plot_losses(self, max_tasks=4, figsize=None):
        """Plot the mean final loss per meta-step and, for the first ``max_tasks`` tasks, their
        training curves in every meta-step (the latest one highlighted). Returns the figure."""
        import matplotlib.pyplot as plt
        if not self.records:
            raise ValueError('nothing logged yet: meta-train (repurpose) before plotting losses')
        tasks = sorted({record['task'] for record in self.records})[:max_tasks]
        figure, axes = plt.subplots(ncols=len(tasks) + 1, squeeze=False,
                                    figsize=figsize or (4 * (len(tasks) + 1), 3.5))
        axes = axes[0]
        metasteps, means = self.mean_final_losses()
        axes[0].plot(metasteps, means, 'o-', label='mean final loss')
        axes[0].set(title='Meta-training', xlabel='meta-step', ylabel='loss after training on a task')
        axes[0].legend()
        for axis, task in zip(axes[1:], tasks):
            self._plot_task_curves(axis, task)
        figure.tight_layout()
        return figure

    def _plot_task_curves(self, axis, task):
        records = [record for record in self.records if record['task'] == task]
        for record in records[:-1]:
            axis.plot(np.arange(1, len(record['losses']) + 1), record['losses'], color='0.7', alpha=0.5,
                      label='earlier meta-steps' if record is records[0] else None)
        last = records[-1]
        axis.plot(np.arange(1, len(last['losses']) + 1), last['losses'], 'o-', color='tab:red',
                  label='meta-step {}'.format(last['metastep']))
        axis.set(title='Task {}'.format(task), xlabel='epoch', ylabel='training loss')
        axis.legend()

    def plot_params(self, param_name, loss_surface=None, max_tasks=4, grid_size=40, figsize=None):
        """Plot the training paths of a two-valued parameter, one panel per task (latest meta-step).

        Parameters
        ----------
        param_name : str
            Name of a parameter with exactly two values (e.g. the weight of a 2-parameter model).
        loss_surface : callable or None
            ``loss_surface(task, values)`` giving the task's loss at the parameter values (a
            length-2 array): drawn as contours behind the paths.
        """
        import matplotlib.pyplot as plt
        logged = [record for record in self.records if 'params' in record]
        if not logged:
            raise ValueError('no parameters logged: create the repurposer with log_params=True')
        if param_name not in logged[0]['params'][0]:
            raise ValueError('no parameter named {!r}; logged: {}'.format(param_name, sorted(logged[0]['params'][0])))
        if logged[0]['params'][0][param_name].size != 2:
            raise ValueError('parameter {!r} has {} values; plot_params draws two-valued parameters only'.format(
                param_name, logged[0]['params'][0][param_name].size))
        tasks = sorted({record['task'] for record in logged})[:max_tasks]
        figure, axes = plt.subplots(ncols=len(tasks), squeeze=False, figsize=figsize or (4.5 * len(tasks), 4))
        for axis, task in zip(axes[0], tasks):
            record = [record for record in logged if record['task'] == task][-1]
            start = self.initial_params[record['metastep']][param_name].ravel()
            path = np.array([start] + [params[param_name].ravel() for params in record['params']])
            axis.plot(path[:, 0], path[:, 1], 'o-', color='tab:red', label='training path')
            axis.plot(start[0], start[1], '*', markersize=14, color='tab:pink', label='initialisation')
            if loss_surface is not None:
                _draw_loss_surface(axis, lambda values: loss_surface(task, values), grid_size)
            axis.set(title='Task {} (meta-step {})'.format(task, record['metastep']),
                     xlabel='{}[0]'.format(param_name), ylabel='{}[1]'.format(param_name))
            axis.legend()
        figure.tight_layout()
        return figure


def _draw_loss_surface(axis, loss_at, grid_size):
    (left, right), (bottom, top) = axis.get_xlim(), axis.get_ylim()
    first, second = np.meshgrid(np.linspace(left, right, grid_size), np.linspace(bottom, top, grid_size))
    losses = np.vectorize(lambda a, b: float(loss_at(np.array([a, b]))))(first, second)
    contours = axis.contourf(first, second, losses, levels=20, cmap='viridis', alpha=0.6, zorder=0)
    axis.figure.colorbar(contours, ax=axis, label='loss')


def _params_as_numpy(model):
    return {name: param.data().asnumpy().copy() for name, param in model.collect_params().items()}
