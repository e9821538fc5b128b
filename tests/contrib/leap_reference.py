"""A slow, step-by-step numpy reference of Leap's meta-gradient for a 1-hidden-layer tanh network."""
import numpy as np


def forward(params, inputs):
    """Output of ``Dense(hidden, tanh) -> Dense(1)`` with Gluon's weight layout (out, in)."""
    hidden = np.tanh(inputs @ params['w1'].T + params['b1'])
    return hidden @ params['w2'].T + params['b2'], hidden


def mean_l2_loss_and_gradient(params, inputs, targets):
    """Gluon's L2Loss (half the squared error), averaged over the batch, and its gradient."""
    outputs, hidden = forward(params, inputs)
    errors = outputs - targets
    count = len(inputs)
    loss = 0.5 * np.mean(np.sum(errors ** 2, axis=1))
    d_outputs = errors / count
    d_hidden = (d_outputs @ params['w2']) * (1 - hidden ** 2)
    gradient = {'w2': d_outputs.T @ hidden, 'b2': d_outputs.sum(axis=0),
                'w1': d_hidden.T @ inputs, 'b1': d_hidden.sum(axis=0)}
    return loss, gradient


def task_meta_gradient(initial, task, num_steps, learning_rate, norm, stabilizer):
    """Train from ``initial`` with plain SGD on the full batch and add up Leap's term of every step."""
    inputs, targets = (np.asarray(part, dtype=np.float64) for part in task)
    params = {name: value.astype(np.float64) for name, value in initial.items()}
    meta_gradient = {name: np.zeros_like(value) for name, value in params.items()}
    loss, gradient = mean_l2_loss_and_gradient(params, inputs, targets)
    for _ in range(num_steps):
        new_params = {name: params[name] - learning_rate * gradient[name] for name in params}
        new_loss, new_gradient = mean_l2_loss_and_gradient(new_params, inputs, targets)
        loss_change = new_loss - loss
        if stabilizer:
            loss_change = -abs(loss_change)
        steps = {name: new_params[name] - params[name] for name in params}
        length = np.sqrt(loss_change ** 2 + sum(np.sum(step ** 2) for step in steps.values())) if norm else 1.0
        for name in params:
            meta_gradient[name] -= (steps[name] + loss_change * gradient[name]) / length
        params, loss, gradient = new_params, new_loss, new_gradient
    return meta_gradient


def loss_went_up(initial, task, num_steps, learning_rate):
    """Whether any SGD step on ``task`` raised the loss (so the stabiliser changes something)."""
    inputs, targets = (np.asarray(part, dtype=np.float64) for part in task)
    params = {name: value.astype(np.float64) for name, value in initial.items()}
    losses = []
    for _ in range(num_steps + 1):
        loss, gradient = mean_l2_loss_and_gradient(params, inputs, targets)
        losses.append(loss)
        params = {name: params[name] - learning_rate * gradient[name] for name in params}
    return bool(np.any(np.diff(losses) > 0))
