"""What `compile` sets up: the losses per output with their weights, and the metrics per output."""
import torch

from deepglass import config

from deepglass import losses as losses_module
from deepglass import metrics as metrics_module
from deepglass.utils import tree


def _per_output(value, output_names, what):
    """Spread a compile argument over the outputs: one value for all, a list in output order, or a dict by name."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(output_names))
        if unknown:
            raise ValueError(f"compile({what}=...) names outputs {unknown}, but the model's outputs are "
                             f"{output_names}.")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)) and len(output_names) == 1 and len(value) == 1 and what == "loss":
        return list(value)  # loss=["mse"] for a single output
    if isinstance(value, (list, tuple)) and len(output_names) > 1:
        if len(value) != len(output_names):
            raise ValueError(f"compile({what}=...) has {len(value)} entries for {len(output_names)} outputs "
                             f"{output_names}; give one per output, or a dict by output name.")
        return list(value)
    return [value] * len(output_names)


class CompiledLoss:
    """The total loss: the sum over outputs of `loss_weight * loss(y_true, y_pred, sample_weight)`."""

    def __init__(self, loss, loss_weights, output_names):
        self.output_names = output_names
        self.losses = [None if entry is None else _as_loss(entry) for entry in _per_output(loss, output_names, "loss")]
        if all(entry is None for entry in self.losses):
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy' or loss='mse'.")
        weights = _per_output(loss_weights, output_names, "loss_weights") if loss_weights is not None else \
            [1.0] * len(output_names)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.multi = len(output_names) > 1

    def __call__(self, y_true, y_pred, sample_weight):
        """The total loss, and the per-output losses (empty for a single output)."""
        if not self.multi:
            loss = self.losses[0](y_true, y_pred, sample_weight)
            return loss if self.weights[0] == 1.0 else loss * self.weights[0], ()
        parts = []
        total = 0.0
        for fn, weight, truth, pred in zip(self.losses, self.weights, y_true, y_pred):
            if fn is None:
                parts.append(None)
                continue
            value = fn(truth, pred, sample_weight)
            parts.append(value)
            total = total + weight * value
        return total, parts

    def validate_targets(self, y_true, y_pred, host_y_true=None):
        """Each loss's check of the first batch's labels. `host_y_true`, the same labels on the host, goes to
        deepglass's own checks, which read labels where they are (a read from an accelerator would wait for it);
        other checks get `y_true`, on the predictions' device."""
        host_y_true = y_true if host_y_true is None else host_y_true
        triples = [(y_true, host_y_true, y_pred)] if not self.multi else list(zip(y_true, host_y_true, y_pred))
        for fn, (truth, host_truth, pred) in zip(self.losses, triples):
            if fn is not None and hasattr(fn, "validate_targets"):
                fn.validate_targets(host_truth if losses_module.checks_labels_where_they_are(fn) else truth, pred)


class CompiledMetrics:
    """Metrics per output, resolved on the first batch (so "accuracy" can pick the right kind of accuracy)."""

    def __init__(self, metrics, weighted_metrics, output_names):
        self.output_names = output_names
        self._specs = [(_per_output(metrics, output_names, "metrics"), False),
                       (_per_output(weighted_metrics, output_names, "weighted_metrics"), True)]
        self.metrics = None  # [(metric, output index, weighted)]

    def build(self, y_true, y_pred):
        multi = len(self.output_names) > 1
        truths = y_true if multi else [y_true]
        preds = y_pred if multi else [y_pred]
        self.metrics = []
        for per_output, weighted in self._specs:
            for index, entries in enumerate(per_output):
                for entry in _as_list(entries):
                    metric = metrics_module.resolve(entry, truths[index], preds[index])
                    if multi:
                        metric.name = f"{self.output_names[index]}_{metric.name}"
                    if weighted and any(m.name == metric.name for m, _, _ in self.metrics):
                        metric.name = f"weighted_{metric.name}"
                    self.metrics.append((metric, index, weighted))

    @property
    def built(self):
        return self.metrics is not None

    def update(self, y_true, y_pred, sample_weight):
        multi = len(self.output_names) > 1
        for metric, index, weighted in self.metrics:
            truth = y_true[index] if multi else y_true
            pred = y_pred[index] if multi else y_pred
            metric.update_state(truth, pred, sample_weight if weighted else None)


def _as_loss(entry):
    """A Loss object (reducing to a scalar) from whatever compile was given, as Keras wraps loss functions."""
    loss = losses_module.get(entry)
    return loss if isinstance(loss, losses_module.Loss) else losses_module.LossFunctionWrapper(loss)


def _as_list(entries):
    if entries is None:
        return []
    return list(entries) if isinstance(entries, (list, tuple)) else [entries]


class LossTracker:
    """The running mean of a loss over the batches of an epoch, weighted by batch size, kept on the device.

    The batch sizes are counted on the host and added to the `count` tensor when it is read (`variables`, `result`):
    one kernel less per training step, which shows in small models' steps."""

    def __init__(self, name):
        self.name = name
        self.total = None
        self.count = None
        self._pending = 0

    @property
    def variables(self):
        """The running sum and count (created on the configured device if no batch has been seen yet)."""
        if self.total is None:
            self._create(config.device())
        self._flush()
        return [self.total, self.count]

    def _create(self, device):
        self.total = torch.zeros((), dtype=torch.float32, device=device)
        self.count = torch.zeros((), dtype=torch.float32, device=device)

    def _flush(self):
        if self._pending:
            self.count.add_(self._pending)
            self._pending = 0

    def update(self, value, batch_size):
        if self.total is None:
            self._create(value.device)
        # One kernel: the step's cost is in kernel launches. (Detached where it could carry a graph into `total`.)
        self.total.add_(value.detach() if value.requires_grad else value, alpha=batch_size)
        self._pending += batch_size

    def result(self):
        if self.total is None:
            return torch.tensor(float("nan"))
        self._flush()
        return self.total / self.count

    def reset_state(self):
        # Made again at the next update, on its value's device: the model may train on another one now.
        self.total = self.count = None
        self._pending = 0


def flatten_targets(y, output_count, output_names):
    """y as the loss container expects it: one tensor for one output, a list in output order otherwise."""
    if output_count == 1:
        flat = tree.flatten(y)
        if len(flat) != 1:
            raise ValueError(f"The model has one output but y holds {len(flat)} arrays.")
        return flat[0]
    if isinstance(y, dict):
        missing = [n for n in output_names if n not in y]
        if missing:
            raise ValueError(f"y is a dict without entries for outputs {missing}; the outputs are {output_names}.")
        return [y[name] for name in output_names]
    flat = tree.flatten(y)
    if len(flat) != output_count:
        raise ValueError(f"The model has {output_count} outputs {output_names} but y holds {len(flat)} arrays; "
                         "give one target per output.")
    return flat
