"""The always-on check for a loss that became NaN or infinite, at no host synchronisation per step."""
import math
import warnings

import torch


class LossWatch:
    """Keeps the current epoch's step losses; when one is not finite, it names the first batch whose loss was not,
    and stops training there (one report per `fit`).

    On the CPU each step's loss is checked at once (reading a CPU tensor costs no wait). On an accelerator that would
    wait for the device every step, so the losses stay there and are checked when the logs are read anyway: by the
    progress bar, a callback, or at the end of the epoch."""

    def __init__(self, model):
        self.model = model
        self.epoch = 0
        self.first_step = 0
        self.losses = []
        self.reported = False
        self.on_host = None  # whether the losses are on the CPU, where reading one costs no wait (seen at the first)

    def record(self, loss):
        self.losses.append(loss)
        if self.on_host is None:
            self.on_host = loss.device.type == "cpu"
        if self.on_host and not self.reported and not math.isfinite(loss.item()):  # 1/20 of torch.isfinite's time
            self.check({"loss": loss.item()})

    def start_epoch(self, epoch, first_step=0):
        self.epoch, self.first_step, self.losses = epoch, first_step, []

    def check(self, logs):
        """Called with logs already read to the host; stops training if their loss is NaN or infinite."""
        loss = logs.get("loss")
        if self.reported or loss is None or math.isfinite(loss) or not self.losses:  # no batch: 0 / 0, not a NaN
            return
        self.reported = True
        self.model.stop_training = True
        warnings.warn(f"The loss became {loss} at epoch {self.epoch + 1}, batch {self.first_bad_step()} (the first "
                      "batch whose loss was not finite); training stopped. Lower the learning rate, look for NaN or "
                      "infinite values in the data, or clip gradients (e.g. optimizer clipnorm=1.0).", stacklevel=2)

    def first_bad_step(self):
        finite = torch.isfinite(torch.stack(self.losses).float())
        bad = (~finite).nonzero()
        return self.first_step + (int(bad[0, 0]) if len(bad) else len(self.losses) - 1)
