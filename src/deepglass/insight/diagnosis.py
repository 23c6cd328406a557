"""Learning-curve diagnosis: what the losses per epoch (and per step) say about a training run."""
import dataclasses
import math

import numpy as np

from deepglass.insight.findings import Finding

CURVE_FINDINGS = ("learning_rate_too_high", "learning_rate_too_low", "overfitting", "underfitting",
                  "unrepresentative_training_set", "unrepresentative_validation_set",
                  "batch_size_learning_rate_mismatch", "plateau", "good_fit")
# Layers that make the training loss higher than the validation loss by design (active in training only).
_TRAINING_ONLY_MARKERS = ("Dropout", "Noise")


@dataclasses.dataclass
class Thresholds:
    """The numbers `diagnose` compares learning curves with; raise one to make its check less eager.

    Loss levels are judged against a reference: the chance-level loss when the model tells it (`log(classes)` for
    categorical cross-entropy, `log(2)` for binary cross-entropy), else the first training step's loss when the
    per-step losses are known, else the first epoch's training loss. Rates are relative changes per epoch.

    Arguments:
        min_epochs: runs shorter than this get only the divergence and per-step checks.
        end_window: the fraction of the run (at least 3 epochs) that counts as "the end".
        spike_rise: an epoch whose training loss rises by more than this fraction of the previous epoch's...
        spike_floor: ...and by more than this fraction of the reference loss is a spike.
        min_spikes: this many spikes mean the learning rate is too high.
        regularised_spike_factor: with dropout, noise or augmentation layers, whose randomness makes the training
            loss itself jump, `spike_rise` and `spike_floor` are multiplied by this.
        divergence_rise: a training loss ending this fraction above its first epoch's value has diverged.
        blow_up: a training loss above this multiple of the reference loss in any epoch has diverged (the
            reference is the chance level when known: a network that does worse than guessing is unstable).
        overfit_rise: a validation loss ending (the mean of the last 3 epochs) this fraction above its
            minimum (of a 3-epoch moving average), and by more than twice its epoch-to-epoch noise, while...
        overfit_train_drop: ...the training loss fell by this fraction since the best epoch, is overfitting.
        overfit_onset: overfitting begins at the first epoch after the best whose validation loss is this
            fraction above the best.
        high_loss: a loss ending above this fraction of the reference is high (underfitting).
        still_falling: a loss still falling by this fraction per epoch at the end has not converged.
        flat: a loss changing by less than this fraction per epoch is flat (plateaus).
        slow_drop: a nearly linear decrease whose total is below this fraction of the reference is too slow...
        linearity: ...when the second half of the run dropped at least this fraction of what the first half did...
        monotone: ...and at least this fraction of the epochs decreased.
        val_noise: a validation curve whose epoch-to-epoch noise is this fraction of its level...
        noise_ratio: ...and this many times the training curve's noise is noisy.
        val_below: validation loss this fraction below the training loss (at the same weights)...
        persistence: ...in this fraction of the second half of the run is suspicious.
        large_gap: a validation loss whose gap to the training loss is this fraction of it at the end...
        gap_floor: ...while it is above this fraction of the reference shows an unrepresentative training set.
        plateau_epochs: a plateau lasts at least this many epochs with the loss flat...
        plateau_escape: ...and is followed, within as many epochs, by a fall of this fraction...
        plateau_floor: ...at a level above this fraction of the reference (lower, the loss is already small).
        batch_noise: per-step losses varying by this fraction of their level mean batches too noisy for the
            learning rate...
        noise_level_floor: ...counting only epochs whose loss is above this fraction of the reference.

    Example:
    >>> deepglass.insight.diagnose(history, thresholds=deepglass.insight.Thresholds(overfit_rise=0.1))
    """

    min_epochs: int = 4
    end_window: float = 0.25
    spike_rise: float = 0.1
    spike_floor: float = 0.02
    min_spikes: int = 2
    regularised_spike_factor: float = 3.0
    divergence_rise: float = 0.1
    blow_up: float = 1.5
    overfit_rise: float = 0.03
    overfit_train_drop: float = 0.1
    overfit_onset: float = 0.02
    high_loss: float = 0.5
    still_falling: float = 0.02
    flat: float = 0.01
    slow_drop: float = 0.5
    linearity: float = 0.6
    monotone: float = 0.8
    val_noise: float = 0.05
    noise_ratio: float = 3.0
    val_below: float = 0.1
    persistence: float = 0.8
    large_gap: float = 0.5
    gap_floor: float = 0.05
    plateau_epochs: int = 5
    plateau_escape: float = 0.1
    plateau_floor: float = 0.05
    batch_noise: float = 0.3
    noise_level_floor: float = 0.25


def diagnose(history, thresholds=None, model=None, step_losses=None):
    """The findings the learning curves of a run support, most important first.

    Reads `loss` and, when present, `val_loss` per epoch. Checks, in order: a learning rate too high (NaN,
    divergence, spikes), overfitting (with the epoch it began and the best epoch), a learning rate too low (a
    slow, nearly linear decrease), underfitting (high and barely improving, or still falling: train longer), an
    unrepresentative validation set (noisy, or well below the training loss with no dropout to explain it), an
    unrepresentative training set (a large gap that stays), plateaus a schedule would shorten, and per-step
    noise too large for the batch size. With validation data and none of these, the finding is `good_fit`.
    Epochs are counted from 1, as the progress bar shows them.

    Arguments:
        history: a `History` (what `fit` returns) or its `history` dict.
        thresholds: a `Thresholds`; the defaults are documented there.
        model: the trained model, to know the chance-level loss and whether it has dropout or noise layers
            (default: the model the History belongs to).
        step_losses: the training loss of every step, one list per epoch (default: the `step_losses` that
            `fit(..., verbose=1)` keeps on the History); without them the per-step noise is not judged.

    Returns:
        A list of `Finding`.

    Example:
    >>> history = model.fit(x, y, validation_split=0.2, epochs=50, verbose=0)
    >>> for finding in deepglass.insight.diagnose(history, model=model):
    ...     print(finding)
    """
    thresholds = thresholds or Thresholds()
    model = model if model is not None else getattr(history, "model", None)
    if step_losses is None:
        step_losses = getattr(history, "step_losses", None)
    curves = _Curves(getattr(history, "history", history), model, step_losses)
    return _findings(curves, thresholds)


class _Curves:
    """The losses of one run as float64 arrays, with the reference level the checks compare against."""

    def __init__(self, logs, model, step_losses):
        if "loss" not in logs or not len(logs["loss"]):
            raise ValueError(f"diagnose() needs a history with a 'loss' entry per epoch; got entries "
                             f"{sorted(logs)}. Pass the History that fit() returns.")
        self.train = np.asarray(logs["loss"], dtype=np.float64)
        val = logs.get("val_loss")
        # With validation_freq > 1 the validation epochs are not the training epochs: leave them out.
        self.val = np.asarray(val, dtype=np.float64) if val is not None and len(val) == len(self.train) else None
        rates = logs.get("learning_rate", logs.get("lr"))
        self.lr_changed = rates is not None and len(set(np.round(np.asarray(rates, dtype=np.float64), 12))) > 1
        self.steps = _per_epoch(step_losses, len(self.train))
        self.chance = _chance_level(model)
        self.regularised_by = _training_only_layers(model)
        self.has_model = model is not None
        first_step = self.steps[0][0] if self.steps and len(self.steps[0]) else None
        candidates = (self.chance, first_step, float(self.train[0]))
        self.reference = next((abs(v) for v in candidates if v is not None and math.isfinite(v) and v != 0), 1.0)
        if self.chance is not None and _has_weight_penalties(model) and math.isfinite(self.train[0]):
            # The loss fit reports includes the penalties, which the chance level does not: start from the higher.
            self.reference = max(self.reference, abs(float(self.train[0])))

    @property
    def epochs(self):
        return len(self.train)

    def window(self, thresholds):
        return min(self.epochs - 1, max(3, round(thresholds.end_window * self.epochs)))


def _findings(curves, t):
    too_high = _learning_rate_too_high(curves, t)
    if too_high:
        return [too_high]  # once training has blown up, the rest of the curve says nothing more
    noise = _batch_noise(curves, t)
    if curves.epochs < t.min_epochs:
        return [noise] if noise else []
    overfit = _overfitting(curves, t)
    too_low = _learning_rate_too_low(curves, t)
    found = [overfit, too_low]
    found.append(None if overfit or too_low else _underfitting(curves, t))
    found.append(_unrepresentative_validation(curves, t))
    found.append(None if overfit else _unrepresentative_training(curves, t))
    found.append(None if too_low else _plateau(curves, t))
    found.append(noise)
    found = [finding for finding in found if finding]
    if not found and curves.val is not None:
        found.append(_good_fit(curves))
    return found


# -------------------------------------------------------------------------------------------------- the checks
def _learning_rate_too_high(c, t):
    advice = ("lower the learning rate (e.g. by 10x), or clip gradients with clipnorm=1.0; with SGD, try Adam at "
              "its default 0.001")
    series = [("training", c.train)] + ([("validation", c.val)] if c.val is not None else [])
    for which, curve in series:
        bad = np.flatnonzero(~np.isfinite(curve))
        if bad.size:
            epoch = int(bad[0]) + 1
            return Finding("learning_rate_too_high", f"the {which} loss became {curve[bad[0]]} at epoch {epoch}",
                           advice, epochs=[epoch], evidence={"epoch": epoch, "value": float(curve[bad[0]])})
    first, last = c.train[0], c.train[-1]
    if c.epochs > 1 and last > first * (1 + t.divergence_rise):
        return Finding("learning_rate_too_high", f"the training loss diverged ({first:.4g} at epoch 1, {last:.4g} "
                       f"at epoch {c.epochs})", advice, epochs=list(range(1, c.epochs + 1)),
                       evidence={"first_loss": float(first), "last_loss": float(last)})
    worst = int(np.argmax(c.train))
    if c.train[worst] > t.blow_up * c.reference:
        return Finding("learning_rate_too_high", f"the training loss blew up to {c.train[worst]:.4g} at epoch "
                       f"{worst + 1}, {c.train[worst] / c.reference:.1f} times the starting level {c.reference:.4g}",
                       advice, epochs=[worst + 1],
                       evidence={"largest_loss": float(c.train[worst]), "reference_loss": float(c.reference)})
    rises = np.diff(c.train)
    factor = t.regularised_spike_factor if c.regularised_by else 1.0
    spikes = np.flatnonzero((rises > factor * t.spike_rise * c.train[:-1]) &
                            (rises > factor * t.spike_floor * c.reference)) + 2
    if len(spikes) >= t.min_spikes:
        return Finding("learning_rate_too_high", f"the training loss jumped up {len(spikes)} times (epochs "
                       f"{_epoch_list(spikes)})", advice, epochs=[int(e) for e in spikes],
                       evidence={"spikes": len(spikes), "largest_rise": float(rises.max())})
    return None


def _overfitting(c, t):
    if c.val is None:
        return None
    best = int(np.argmin(c.val))
    after = c.val[best + 1:]
    if len(after) < 2:
        return None
    best_val = c.val[best]
    # Judge the rise on a smoothed curve, and against the curve's own noise, so that one lucky epoch does not
    # make a minimum.
    smooth_best = float(np.min(_smooth(c.val)))
    rise = float(np.mean(after[-3:])) / smooth_best - 1 if smooth_best > 0 else 0.0
    train_drop = 1 - c.train[-1] / c.train[best] if c.train[best] > 0 else 0.0
    if rise < max(t.overfit_rise, 2 * _noise(c.val)) or train_drop < t.overfit_train_drop:
        return None
    onset = best + 1 + int(np.argmax(after > best_val * (1 + t.overfit_onset)))
    return Finding(
        "overfitting", f"overfitting from epoch {onset + 1} (best epoch {best + 1})",
        'consider EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True), Dropout, '
        "weight regularisation, data augmentation or more training data",
        epochs=list(range(onset + 1, c.epochs + 1)),
        evidence={"best_epoch": best + 1, "best_val_loss": float(best_val), "final_val_loss": float(c.val[-1]),
                  "val_loss_rise": float(rise), "train_loss_drop_since_best": float(train_drop)})


def _learning_rate_too_low(c, t):
    half = (c.epochs - 1) // 2
    first_drop = c.train[0] - c.train[half]
    second_drop = c.train[c.epochs - 1 - half] - c.train[-1]
    falling = float(np.mean(np.diff(c.train) < 0))
    total = (c.train[0] - c.train[-1]) / c.reference
    if first_drop <= 0 or falling < t.monotone or second_drop < t.linearity * first_drop or total >= t.slow_drop:
        return None
    per_epoch = (c.train[0] - c.train[-1]) / (c.epochs - 1)
    return Finding(
        "learning_rate_too_low", f"the training loss falls slowly and steadily ({per_epoch:.3g} per epoch, "
        f"{100 * total:.2g}% of its starting level in {c.epochs} epochs)",
        "raise the learning rate (e.g. by 10x), or find one with a learning-rate range test",
        epochs=list(range(1, c.epochs + 1)),
        evidence={"drop_per_epoch": float(per_epoch), "total_drop_fraction": float(total),
                  "second_to_first_half_drop": float(second_drop / first_drop)})


def _underfitting(c, t):
    w = c.window(t)
    rate = _rate(c.train, w)
    val_rate = _rate(c.val, w) if c.val is not None else rate
    if rate >= t.still_falling and val_rate >= t.still_falling:
        return Finding(
            "underfitting", f"the loss was still falling at the end ({rate:.1%} per epoch over the last {w} "
            "epochs)", "train longer (more epochs); the model has not converged yet",
            epochs=list(range(c.epochs - w + 1, c.epochs + 1)),
            evidence={"train_rate_per_epoch": float(rate), "val_rate_per_epoch": float(val_rate),
                      "final_loss": float(c.train[-1])})
    level = float(np.mean(c.train[-w:])) / c.reference
    val_level = float(np.mean(c.val[-w:])) / c.reference if c.val is not None else level
    if level < t.high_loss or val_level < t.high_loss:
        return None
    return Finding(
        "underfitting", f"the training loss stays high ({level:.0%} of its starting level after {c.epochs} "
        "epochs)",
        "use a larger model (more units or layers), better features, less regularisation, or a higher learning "
        "rate", epochs=list(range(c.epochs - w + 1, c.epochs + 1)),
        evidence={"final_loss": float(c.train[-1]), "reference_loss": float(c.reference),
                  "level_vs_reference": level, "train_rate_per_epoch": float(rate)})


def _unrepresentative_validation(c, t):
    if c.val is None:
        return None
    val_noise, train_noise = _noise(c.val), _noise(c.train)
    noisy = val_noise > t.val_noise and val_noise > t.noise_ratio * train_noise
    # The training loss of an epoch is a mean over the epoch, the validation loss is taken at its end: compare
    # it with the training loss halfway through the next epoch, which is about the loss at the same weights.
    train_at_end = (c.train[:-1] + c.train[1:]) / 2
    start = (c.epochs - 1) // 2
    below = c.val[:-1][start:] < train_at_end[start:] * (1 - t.val_below)
    low = below.size > 0 and float(np.mean(below)) >= t.persistence and not c.regularised_by
    if not (noisy or low):
        return None
    train_end = float(np.mean(c.train[-3:]))
    gap = 1 - float(np.mean(c.val[-3:])) / train_end if train_end > 0 else 0.0
    evidence = {"val_noise": val_noise, "train_noise": train_noise, "val_below_train": gap}
    if low:
        summary = f"the validation loss is {gap:.0%} below the training loss"
        if not c.has_model:
            summary += " (no model given to check for dropout)"
        advice = ("the validation set looks easier than the training set: draw it at random from the same data "
                  "(shuffle before validation_split, which takes the last samples), and make it larger")
        epochs = [int(e) + 1 for e in np.flatnonzero(below) + start]
    else:
        summary = f"the validation loss is noisy ({val_noise:.0%} epoch-to-epoch noise, {train_noise:.1%} for training)"
        advice = "the validation set is too small to judge the model: make it larger (e.g. validation_split=0.2)"
        epochs = list(range(1, c.epochs + 1))
    return Finding("unrepresentative_validation_set", summary, advice, epochs=epochs, evidence=evidence)


def _unrepresentative_training(c, t):
    if c.val is None:
        return None
    val_end, train_end = float(np.mean(c.val[-3:])), float(np.mean(c.train[-3:]))
    gaps = (c.val - c.train) / np.where(c.val > 0, c.val, np.inf)
    if val_end <= t.gap_floor * c.reference or gaps[-3:].mean() <= t.large_gap:
        return None
    small = np.flatnonzero(gaps <= t.large_gap)
    since = int(small[-1]) + 2 if small.size else 1
    return Finding(
        "unrepresentative_training_set", f"a large gap between training and validation loss from epoch {since} "
        f"({train_end:.4g} vs {val_end:.4g})",
        "the training set does not show enough of the problem: get more (or more varied) training data, use data "
        "augmentation or regularisation, and check that the split is random",
        epochs=list(range(since, c.epochs + 1)),
        evidence={"final_train_loss": train_end, "final_val_loss": val_end, "gap_fraction": float(gaps[-3:].mean()),
                  "best_val_epoch": int(np.argmin(c.val)) + 1})


def _plateau(c, t):
    if c.lr_changed:
        return None  # a schedule is already at work
    p = t.plateau_epochs
    for start in range(c.epochs - p - 1):
        end = start + p
        level = c.train[start]
        if level < t.plateau_floor * c.reference or level - c.train[start:end + 1].min() >= t.flat * p * level:
            continue
        later = c.train[end + 1:end + 1 + p]
        if c.train[end] > 0 and later.min() < c.train[end] * (1 - t.plateau_escape):
            drop = 1 - later.min() / c.train[end]
            return Finding(
                "plateau", f"the training loss was flat from epoch {start + 1} to {end + 1}, then fell {drop:.0%}",
                "a learning-rate schedule would shorten such plateaus: try ReduceLROnPlateau(patience=3) or a "
                "cosine decay", epochs=list(range(start + 1, end + 2)),
                evidence={"plateau_level": float(level), "drop_after": float(drop)})
    return None


def _batch_noise(c, t):
    if not c.steps:
        return None
    noises = []
    for steps in c.steps:
        steps = steps[np.isfinite(steps)]
        level = float(np.median(steps)) if steps.size else 0.0
        if steps.size >= 8 and level > t.noise_level_floor * c.reference:
            # Step-to-step differences remove the slow trend; their median ignores rare outliers.
            noises.append(float(np.median(np.abs(np.diff(steps)))) / 0.954 / level)
    if not noises or np.median(noises) <= t.batch_noise:
        return None
    noise = float(np.median(noises))
    return Finding(
        "batch_size_learning_rate_mismatch", f"the per-step loss is very noisy ({noise:.0%} of its level from one "
        "step to the next)", "use a larger batch_size (scaling the learning rate with it), or lower the learning "
        "rate", epochs=list(range(1, c.epochs + 1)), evidence={"step_noise": noise, "epochs_measured": len(noises)})


def _good_fit(c):
    best = int(np.argmin(c.val)) + 1
    train_end, val_end = float(c.train[-1]), float(c.val[-1])
    return Finding(
        "good_fit", f"good fit: training and validation losses settled close together ({train_end:.4g} and "
        f"{val_end:.4g})", f"nothing to fix; the best validation loss was at epoch {best}",
        epochs=[best], evidence={"final_train_loss": train_end, "final_val_loss": val_end, "best_epoch": best})


# ------------------------------------------------------------------------------------------------------ helpers
def _rate(curve, window):
    """The relative fall per epoch over the last `window` epochs (positive while improving)."""
    end = curve[-1]
    return float((curve[-window - 1] - end) / (window * abs(end))) if end != 0 else 0.0


def _smooth(curve):
    """A centred moving average over 3 epochs (2 at the ends)."""
    padded = np.concatenate(([np.nan], curve, [np.nan]))
    return np.nanmean(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def _noise(curve):
    """Epoch-to-epoch noise as a fraction of the curve's level: a robust std from second differences."""
    if len(curve) < 5:
        return 0.0
    second = curve[:-2] - 2 * curve[1:-1] + curve[2:]
    level = float(np.median(np.abs(curve)))
    return float(np.median(np.abs(second))) / 1.652 / level if level > 0 else 0.0


def _epoch_list(epochs, shown=5):
    text = ", ".join(str(int(e)) for e in epochs[:shown])
    return text + (", ..." if len(epochs) > shown else "")


def _per_epoch(step_losses, epochs):
    """Per-step losses as one float64 array per epoch (a flat sequence is split evenly over the epochs)."""
    if step_losses is None or not len(step_losses):
        return None
    if np.ndim(step_losses[0]) == 0:
        return np.array_split(np.asarray(step_losses, dtype=np.float64), epochs)
    return [np.asarray(steps, dtype=np.float64) for steps in step_losses]


def _chance_level(model):
    """The loss of a uniform guess for a cross-entropy classifier, or None when it cannot be known."""
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    name = str(name).replace("_", "").lower()
    if name == "binarycrossentropy":
        return math.log(2)
    if name not in ("categoricalcrossentropy", "sparsecategoricalcrossentropy"):
        return None
    try:
        classes = model.output_shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):  # subclassed models may not know their output
        return None
    return math.log(classes) if isinstance(classes, int) and classes > 1 else None


def _has_weight_penalties(model):
    """Whether a layer adds a weight or activity penalty to the loss (`kernel_regularizer=` and the like)."""
    return model is not None and hasattr(model, "modules") and any(
        getattr(m, "_penalties", None) or getattr(m, "activity_regularizer", None) is not None for m in model.modules())


def _training_only_layers(model):
    """Names of the layers that act only in training (dropout, noise, augmentation)."""
    if model is None or not hasattr(model, "modules"):
        return []
    return [getattr(m, "name", type(m).__name__) for m in model.modules()
            if any(marker in type(m).__name__ for marker in _TRAINING_ONLY_MARKERS)
            or type(m).__name__.startswith("Random")]
