"""The learning-rate range test (Smith, 2017; popularised by fastai's `lr_find`): train for a short while with a
learning rate that grows exponentially from batch to batch, and read a good rate off the loss curve."""
import copy
import math

import numpy as np
import torch

from deepglass.insight.plots import BLUE, GREY, VERMILION, _finish, _pyplot
from deepglass.mixed_precision import autocast as mixed_autocast
from deepglass.training.compile_utils import flatten_targets
from deepglass.training import rng_state
from deepglass.training.data_adapters import adapt, is_array_data
from deepglass.utils import tree


class LRFinderResult:
    """What `lr_find` measured: the learning rate of each step, the smoothed and raw losses, and a suggestion.

    `suggestion` is a tenth of `min_loss_lr`, the rate at the lowest smoothed loss (the rule of Smith and of
    fastai's first `lr_find`): about where the loss would start to diverge, less one order of magnitude.
    `steepest_lr` is fastai's other rule, the rate where the smoothed loss falls fastest; it is often too high,
    because the moving average lags behind the raw loss by about `smooth / (1 - smooth)` steps (49 for 0.98),
    so that its steepest fall comes late, when the raw loss has nearly stopped falling. A lag does not move the
    lowest point much, since the loss rises sharply once it diverges.

    Arguments:
        lrs: the learning rate of each step.
        losses: the smoothed (bias-corrected exponential moving average) loss of each step.
        raw_losses: the loss of each step's batch, before its update.

    Example:
    >>> result = deepglass.insight.lr_find(model, x_train, y_train)
    >>> result.suggestion, result.min_loss_lr, result.steepest_lr
    >>> result.plot("lr_find.png")
    """

    def __init__(self, lrs, losses, raw_losses=None):
        self.lrs = [float(v) for v in lrs]
        self.losses = [float(v) for v in losses]
        self.raw_losses = [float(v) for v in (losses if raw_losses is None else raw_losses)]
        if len(self.lrs) != len(self.losses) or len(self.lrs) != len(self.raw_losses):
            raise ValueError(f"LRFinderResult needs one loss per learning rate; got {len(self.lrs)} rates, "
                             f"{len(self.losses)} losses and {len(self.raw_losses)} raw losses.")

    @property
    def min_loss_lr(self):
        """The learning rate of the lowest smoothed loss (None when no finite loss was recorded)."""
        index = self._lowest()
        return None if index is None else self.lrs[index]

    @property
    def suggestion(self):
        """A tenth of the learning rate of the lowest smoothed loss (None when no finite loss was recorded)."""
        lowest = self.min_loss_lr
        return None if lowest is None else lowest / 10

    @property
    def steepest_lr(self):
        """The learning rate of the steepest fall of the smoothed loss (the least `d loss / d log10(lr)`), between
        the first tenth of the steps (whose average rests on few batches, as fastai also leaves them out) and the
        lowest loss; None when that leaves fewer than 3 steps."""
        stop = self._lowest()
        start = len(self.losses) // 10
        if stop is None or stop + 1 - start < 3:
            return None
        slopes = np.gradient(np.asarray(self.losses[start:stop + 1]), np.log10(self.lrs[start:stop + 1]))
        return self.lrs[start + int(np.argmin(np.where(np.isfinite(slopes), slopes, np.inf)))]

    def _lowest(self):
        finite = [(loss, index) for index, loss in enumerate(self.losses) if math.isfinite(loss)]
        return min(finite)[1] if finite else None

    def plot(self, path=None, ax=None):
        """Draw the smoothed loss (and, faintly, the raw one) against the learning rate on a log axis, with the
        suggestion marked. Returns the matplotlib Figure; saves it to `path` when given.

        Example:
        >>> deepglass.insight.lr_find(model, x, y).plot("lr_find.png")
        """
        plt = _pyplot("LRFinderResult.plot")
        if ax is None:
            figure, ax = plt.subplots(figsize=(7, 4.2))
        else:
            figure = ax.figure
        ax.plot(self.lrs, self.raw_losses, color=GREY, alpha=0.5, linewidth=0.8, label="loss of each batch")
        ax.plot(self.lrs, self.losses, color=BLUE, linewidth=2, label="smoothed loss")
        suggestion, lowest = self.suggestion, self._lowest()
        if suggestion is not None:
            at = float(np.interp(math.log10(suggestion), np.log10(self.lrs), self.losses))
            ax.scatter([suggestion], [at], s=90, color=VERMILION, zorder=3,
                       label=f"suggestion {suggestion:.2g} (lowest loss / 10)")
            ax.axvline(suggestion, color=VERMILION, linestyle=":", linewidth=1)
            ax.annotate(f"lr = {suggestion:.2g}", (suggestion, at), xytext=(8, 10), textcoords="offset points",
                        color=VERMILION, fontsize=9)
            ax.scatter([self.lrs[lowest]], [self.losses[lowest]], s=40, color=GREY, zorder=3,
                       label=f"lowest smoothed loss (lr {self.lrs[lowest]:.2g})")
        ax.set_xscale("log")
        ax.set_ylim(*self._shown_range())
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.set_title(f"Learning-rate range test ({len(self.lrs)} steps)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return _finish(plt, figure, path)

    def _shown_range(self):
        """Loss limits from the lowest loss up to the starting level, so that the diverging tail does not squash
        the part that matters."""
        best = self._lowest() or 0
        shown = [v for v in self.losses[:best + 1] + self.raw_losses[:best + 1] if math.isfinite(v)] or [0.0, 1.0]
        low, high = min(shown), max(self.losses[0], min(shown))
        margin = 0.08 * (high - low) or 0.5 * abs(high) or 1.0
        return low - margin, high + 3 * margin

    def get_config(self):
        return {"lrs": list(self.lrs), "losses": _json_numbers(self.losses),
                "raw_losses": _json_numbers(self.raw_losses)}

    @classmethod
    def from_config(cls, config):
        def numbers(values):
            return [math.nan if v is None else v for v in values]
        return cls(config["lrs"], numbers(config["losses"]), numbers(config.get("raw_losses", config["losses"])))

    def __repr__(self):
        suggestion = self.suggestion
        shown = "None" if suggestion is None else f"{suggestion:.3g}"
        return f"<LRFinderResult steps={len(self.lrs)} suggestion={shown}>"


def lr_find(model, x, y=None, start_lr=1e-7, end_lr=10.0, num_steps=100, batch_size=32, smooth=0.98, diverge=4.0):
    """Smith's learning-rate range test: train for up to `num_steps` mini-batches with the learning rate growing
    exponentially from `start_lr` to `end_lr`, recording the loss of each batch; stop early once the smoothed loss
    exceeds `diverge` times its lowest value (or is not finite).

    Step `i` uses `lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))`; the smoothed loss is the
    bias-corrected moving average `a_i = smooth * a_(i-1) + (1 - smooth) * loss_i`, divided by `1 - smooth ** (i+1)`.
    It uses the model's compiled optimizer and loss (with the regularisation penalties, as `fit` does), with the
    batches shuffled; each step is `fit`'s update, so that with a `LossScaleOptimizer` (mixed_float16) the loss is
    scaled and steps with overflowing gradients are skipped, and the rate swept is that of the optimizer it wraps.
    Afterwards the model is exactly as before: its weights and buffers, the optimizer's state
    (moments, step count, learning rate or schedule; unbuilt if it was), gradients, layer modes and the random
    number generators are restored, so that a following `fit` gives the same result as without the test (a model
    whose weights are not created yet is built first, as `fit` would build it). Each step reads its loss back from
    the device to check for divergence.

    Arguments:
        model: a compiled deepglass model.
        x, y: the training data, as `fit` takes it (arrays, tensors, or a DataLoader / Dataset / generator as `x`).
        start_lr, end_lr: the first and the last learning rate (`0 < start_lr < end_lr`).
        num_steps: the number of steps (mini-batches) at most; the data is cycled if it has fewer batches.
        batch_size: the samples per batch for array data.
        smooth: the moving average's factor in [0, 1); 0 records the raw losses.
        diverge: stop when the smoothed loss exceeds this many times its lowest value.

    Returns:
        An `LRFinderResult` with `lrs`, `losses` (smoothed), `raw_losses`, `suggestion` (a tenth of the rate at the
        lowest smoothed loss), `min_loss_lr`, `steepest_lr` (the steepest fall of the smoothed loss) and
        `plot(path=None)`.

    Example:
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> result = deepglass.insight.lr_find(model, x_train, y_train)
    >>> result.plot("lr_find.png")
    >>> model.optimizer.learning_rate = result.suggestion
    """
    _check_arguments(model, start_lr, end_lr, num_steps, smooth, diverge)
    device = model._device()
    data = adapt(x, y, None, batch_size if is_array_data(x) else None, shuffle=True, device=device)
    if data.first_batch()[1] is None:
        raise ValueError("lr_find needs targets y for the loss; got none.")
    outputs = model._checked_forward(data.first_batch()[0])  # builds what is still lazy, before the weights are saved
    lrs = [start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)) for i in range(num_steps)]
    with _Restored(model, device):
        model._half_outputs = mixed_autocast.has_half(outputs)  # mixed precision: a float32 loss, as in fit
        raw = _run(model, data, lrs, smooth, diverge)
    smoothed = _smoothed(raw, smooth)
    return LRFinderResult(lrs[:len(raw)], smoothed, raw)


# ------------------------------------------------------------------------------------------------------ helpers
def _check_arguments(model, start_lr, end_lr, num_steps, smooth, diverge):
    require = getattr(model, "_require_compiled", None)
    if require is None:
        raise TypeError(f"lr_find needs a compiled deepglass model; got {type(model).__name__}. Wrap a torch "
                        "module as a deepglass layer in a Sequential model and compile it.")
    require("lr_find")
    if not (isinstance(start_lr, (int, float)) and isinstance(end_lr, (int, float)) and 0 < start_lr < end_lr):
        raise ValueError(f"lr_find expects 0 < start_lr < end_lr; got start_lr={start_lr!r}, end_lr={end_lr!r}.")
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 2:
        raise ValueError(f"Received an invalid value for `num_steps`, expected an integer >= 2. Received: "
                         f"num_steps={num_steps!r}")
    if not isinstance(smooth, (int, float)) or not 0 <= smooth < 1:
        raise ValueError(f"Received an invalid value for `smooth`, expected a number in [0, 1). Received: "
                         f"smooth={smooth!r}")
    if not isinstance(diverge, (int, float)) or diverge <= 1:
        raise ValueError(f"Received an invalid value for `diverge`, expected a number > 1. Received: "
                         f"diverge={diverge!r}")


def _run(model, data, lrs, smooth, diverge):
    """Train one step per learning rate; the raw loss of each step, up to and including the one that diverged."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model._named_trainable_weights())
    rated = _rated(optimizer)
    rated._legacy = {}  # the rate must be exactly lrs[i]: no Keras 2 time decay on top
    model._collect_step_extras()
    call_kwargs = model._mode_kwargs(True)
    model.train(True)
    raw, average, best = [], 0.0, math.inf
    for step, (lr, (xb, yb, swb)) in enumerate(zip(lrs, data.batches(len(lrs)))):
        rated._set_learning_rate(lr)
        y_pred = model._loss_outputs(model(xb, **call_kwargs))
        loss, _ = model._compiled_loss(_targets(model, yb, y_pred), y_pred, swb)
        loss = model._add_penalties(loss)
        model._minimize(loss)  # fit's update: with a LossScaleOptimizer, scaled, and skipped if not finite
        value = float(loss.detach())  # needed now: the test stops as soon as the loss diverges
        raw.append(value)
        average = smooth * average + (1 - smooth) * value
        smoothed = average / (1 - smooth ** (step + 1))
        if not math.isfinite(smoothed) or smoothed > diverge * best:
            break
        best = min(best, smoothed)
    return raw


def _rated(optimizer):
    """The optimizer whose learning rate an update applies: a LossScaleOptimizer's inner one."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _targets(model, y, y_pred):
    count = len(tree.flatten(y_pred))
    if count == 1 and torch.is_tensor(y):
        return y
    return flatten_targets(y, count, model._compiled_loss.output_names)


def _smoothed(raw, smooth):
    result, average = [], 0.0
    for step, value in enumerate(raw):
        average = smooth * average + (1 - smooth) * value
        result.append(average / (1 - smooth ** (step + 1)))
    return result


def _json_numbers(values):
    return [v if math.isfinite(v) else None for v in values]


class _Restored:
    """Everything `lr_find` changes, put back on exit: weights and buffers, gradients, layer modes, the optimizer
    (its attributes, its tensors such as a LossScaleOptimizer's scale, torch's state, and the same for the optimizer
    a LossScaleOptimizer wraps), the model's step bookkeeping and the random number generators."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    def __enter__(self):
        model, optimizer = self.model, self.model.optimizer
        self.weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
        self.grads = [(p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]
        self.modes = [(module, module.training) for module in model.modules()]
        self.model_attributes = dict(model.__dict__)
        self.optimizers = [_OptimizerState(o) for o in dict.fromkeys((optimizer, _rated(optimizer)))]
        self.torch_state = copy.deepcopy(optimizer.torch_optimizer.state_dict()) if optimizer.built else None
        self.rng = rng_state.capture(model)

    def __exit__(self, *exc):
        model, optimizer = self.model, self.model.optimizer
        rng_state.restore(self.rng, model)
        with torch.no_grad():
            model.load_state_dict(self.weights)
        for parameter, grad in self.grads:
            parameter.grad = grad
        for module, mode in self.modes:
            module.training = mode
        for saved in self.optimizers:
            saved.restore()
        if self.torch_state is not None:
            optimizer.torch_optimizer.load_state_dict(self.torch_state)
        for name in set(model.__dict__) - set(self.model_attributes):
            del model.__dict__[name]  # bookkeeping the steps added (e.g. the penalties in use)
        model.__dict__.update(self.model_attributes)
        return False


class _OptimizerState:
    """One optimizer's attributes, and the values of the tensors it updates in place (its own, such as a loss scale,
    and its moving averages and gradient sums)."""

    def __init__(self, optimizer):
        self.optimizer, self.attributes = optimizer, dict(optimizer.__dict__)
        self.tensors = [(t, t.detach().clone()) for t in self._tensors()]

    def _tensors(self):
        optimizer = self.optimizer
        own = [value for value in optimizer.__dict__.values() if isinstance(value, torch.Tensor)]
        return own + [t for group in (optimizer._ema, optimizer._accumulators) for t in group or ()]

    @torch.no_grad()
    def restore(self):
        self.optimizer.__dict__.clear()
        self.optimizer.__dict__.update(self.attributes)
        for tensor, value in self.tensors:
            tensor.copy_(value)
