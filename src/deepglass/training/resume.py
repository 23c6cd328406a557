"""Where a resumed `fit` starts: the epoch, the step within it, the random state and the running metric sums."""
import dataclasses

import torch

from deepglass.training import rng_state


@dataclasses.dataclass
class ResumePoint:
    """A point of a training run from which `fit` continues exactly as the run did (see `BackupAndRestore`).

    Attributes:
        epoch: the epoch to continue (0-based).
        step: the number of batches of that epoch already trained (0: the epoch starts afresh).
        rng: the random state (`rng_state.capture`) at the point itself.
        epoch_rng: the random state when the epoch began (it decides the epoch's data order); needed when step > 0.
        metric_values: the metrics' state tensors (`metric_state(model)`) at the point.
    """

    epoch: int
    step: int
    rng: dict
    epoch_rng: dict = None
    metric_values: list = None

    def begin_epoch(self, model):
        """Put back the random state the epoch began with (or, at an epoch boundary, the point's own)."""
        if self.step and self.epoch_rng is None:
            raise ValueError(f"Cannot continue epoch {self.epoch + 1} at batch {self.step}: the random state at "
                             "the start of that epoch was not saved.")
        rng_state.restore(self.epoch_rng if self.step else self.rng, model)

    def from_epoch_start(self):
        """The same point moved back to the start of its epoch (for data that cannot be replayed)."""
        return dataclasses.replace(self, step=0, epoch_rng=None, metric_values=None)

    def skip(self, batches, model):
        """`batches` from `step` on: the ones before are drawn and passed over (so the epoch's order and any
        random augmentation repeat), then the point's random state and metric sums are put back."""
        for _ in range(self.step):
            if next(batches, None) is None:
                return
        rng_state.restore(self.rng, model)
        if self.metric_values is not None:
            restore_metric_state(model, self.metric_values)
        yield from batches


def metric_state(model):
    """Copies of the state tensors of `model.metrics`, in order."""
    return [v.detach().clone().cpu() for metric in model.metrics for v in metric.variables]


@torch.no_grad()
def restore_metric_state(model, values):
    variables = [v for metric in model.metrics for v in metric.variables]
    if len(variables) != len(values):
        raise ValueError(f"The saved training state has {len(values)} metric values; this model's compiled metrics "
                         f"have {len(variables)}. Compile the model with the metrics of the run that was saved.")
    for variable, value in zip(variables, values):
        variable.copy_(value)
