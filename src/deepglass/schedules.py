"""Learning-rate schedules: the rate as a function of the optimizer's step, computed in Python.

A schedule is called with the integer step (the number of optimizer updates so far) and returns a Python float,
so the optimizer can set torch's learning rate each step without touching the device. Pass one as an
optimizer's `learning_rate`; any plain callable `f(step) -> float` works too. The formulas are Keras's
(`keras.optimizers.schedules`); `OneCycle` follows `torch.optim.lr_scheduler.OneCycleLR`.

Example:
    >>> schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    >>> schedule(0), schedule(100), schedule(200)
    (0.1, 0.05, 0.025)
    >>> optimizer = deepglass.optimizers.SGD(learning_rate=schedule)
"""
import bisect
import math

from deepglass.serialization import Configurable, Registry


class LearningRateSchedule(Configurable):
    """Base class of learning-rate schedules: subclasses define `__call__(step) -> float` and `get_config()`.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / 2 ** (step // 1000)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` to be serializable."
        )


def _check_positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a number > 0. Received: {name}={value!r}")


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: a decay driven by `step / decay_steps`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step):
        """`step / decay_steps`, floored when `staircase` is set."""
        progress = float(step) / self.decay_steps
        return math.floor(progress) if self.staircase else progress

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """Exponential decay: `initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is `floor(step / decay_steps)`, so the rate drops in steps.

    Arguments:
        initial_learning_rate: the rate at step 0.
        decay_steps: the number of steps over which the rate is multiplied by `decay_rate` (> 0).
        decay_rate: the factor per `decay_steps`.
        staircase: decay in discrete intervals.
        name: a name for the schedule.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)(15)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _StepDecay.__init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate * self.decay_rate**self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate on each interval: `values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after the last boundary.

    Arguments:
        boundaries: increasing steps at which the rate changes.
        values: the rates, one more than `boundaries`.
        name: a name for the schedule.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(500)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}."
            )
        if any(b > a for b, a in zip(boundaries, boundaries[1:])):
            raise ValueError(f"Expected `boundaries` in increasing order. Received: boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        return float(self.values[bisect.bisect_left(self.boundaries, step)])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate` over `decay_steps`:
    `(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at `decay_steps`.

    With `cycle=True` the decay restarts: `decay_steps` becomes its first multiple at or above `step`.

    Arguments:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the decay (> 0).
        end_learning_rate: the rate reached at `decay_steps`.
        power: the exponent (1.0: linear decay).
        cycle: restart the decay past `decay_steps`.
        name: a name for the schedule.

    Example:
        >>> PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)(5)
        0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = 1.0 - step / decay_steps
        return float((self.initial_learning_rate - self.end_learning_rate) * fraction**self.power
                     + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_StepDecay):
    """Inverse time decay: `initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    With `staircase=True`, `step / decay_steps` is floored.

    Arguments:
        initial_learning_rate: the rate at step 0.
        decay_steps: how often the decay is applied (> 0).
        decay_rate: the decay factor.
        staircase: decay in discrete intervals.
        name: a name for the schedule.

    Example:
        >>> InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.5)(2)
        0.5
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _StepDecay.__init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return float(self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step)))


def _cosine(start, fraction, alpha):
    """`start * ((1 - alpha) * (1 + cos(pi * fraction)) / 2 + alpha)`."""
    return start * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts), with an optional linear warmup before it.

    Without warmup: `initial_learning_rate * ((1 - alpha) * (1 + cos(pi * t / decay_steps)) / 2 + alpha)` with
    `t = min(step, decay_steps)`. With `warmup_target` set, the rate first rises linearly from
    `initial_learning_rate` to `warmup_target` over `warmup_steps`, then decays from `warmup_target` as above.

    Arguments:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the cosine decay (> 0).
        alpha: the final rate as a fraction of the rate the decay starts from.
        name: a name for the schedule.
        warmup_target: the rate reached at the end of the warmup (None: no warmup).
        warmup_steps: the length of the warmup.

    Example:
        >>> CosineDecay(0.0, decay_steps=100, warmup_target=0.1, warmup_steps=10)(5)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return float(_cosine(self.initial_learning_rate, min(step, self.decay_steps) / self.decay_steps,
                                 self.alpha))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return float((self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate)
        return float(_cosine(self.warmup_target, (step - self.warmup_steps) / self.decay_steps, self.alpha))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first period lasts `first_decay_steps`; each next one is `t_mul` times longer and starts from a rate
    `m_mul` times the previous start. Within period `i` at fraction `f` of it, the rate is
    `initial_learning_rate * ((1 - alpha) * m_mul**i * (1 + cos(pi * f)) / 2 + alpha)`.

    Arguments:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period (> 0).
        t_mul: the factor by which each period is longer than the previous one.
        m_mul: the factor by which each restart's rate is smaller than the previous one.
        alpha: the lowest rate as a fraction of `initial_learning_rate`.
        name: a name for the schedule.

    Example:
        >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=10)
        >>> schedule(0), schedule(10), schedule(20)
        (1.0, 1.0, 0.5)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _check_positive("first_decay_steps", first_decay_steps)
        _check_positive("t_mul", t_mul)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def _restart_and_fraction(self, fraction):
        """The period index `i` containing `fraction` (in units of the first period) and the fraction into it."""
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restart = math.floor(fraction)
            return restart, fraction - restart
        argument = 1.0 - fraction * (1.0 - t_mul)
        if argument <= 0:
            # Periods that shrink (t_mul < 1) add up to a finite number of steps, after which there is no period.
            total = self.first_decay_steps / (1.0 - t_mul)
            raise ValueError(
                f"CosineDecayRestarts with t_mul={self.t_mul} < 1 has no period left after step {total:g}; "
                "use t_mul >= 1 or stop training earlier."
            )
        restart = math.floor(math.log(argument) / math.log(t_mul))

        def start_of(i):
            return (1.0 - t_mul**i) / (1.0 - t_mul)

        # The logarithm can land a hair below an exact restart; nudge the index onto the right period.
        while start_of(restart + 1) <= fraction:
            restart += 1
        while restart > 0 and start_of(restart) > fraction:
            restart -= 1
        return restart, (fraction - start_of(restart)) / t_mul**restart

    def __call__(self, step):
        restart, fraction = self._restart_and_fraction(float(step) / self.first_decay_steps)
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


class OneCycle(LearningRateSchedule):
    """The one-cycle policy (Smith & Topin 2018), as `torch.optim.lr_scheduler.OneCycleLR` computes it.

    The rate rises from `max_learning_rate / div_factor` to `max_learning_rate` over the first
    `pct_start * total_steps` steps, then anneals to `max_learning_rate / div_factor / final_div_factor` at step
    `total_steps - 1` and stays there. `three_phase=True` anneals back to the starting rate over a second phase of
    the same length first, and only then down to the final rate. Annealing follows half a cosine
    (`end + (start - end) * (1 + cos(pi * t)) / 2`) or a straight line (`start + (end - start) * t`), `t` being the
    fraction of the phase completed. Only the learning rate cycles; momentum is left as the optimizer sets it.

    Arguments:
        max_learning_rate: the peak rate.
        total_steps: the length of the cycle in optimizer steps (epochs * steps per epoch).
        pct_start: the fraction of the cycle spent rising to the peak, in (0, 1).
        anneal_strategy: `"cos"` or `"linear"`.
        div_factor: the starting rate is `max_learning_rate / div_factor`.
        final_div_factor: the final rate is the starting rate divided by `final_div_factor`.
        three_phase: anneal back to the starting rate before the final descent.
        name: a name for the schedule.

    Example:
        >>> schedule = OneCycle(0.1, total_steps=1000)
        >>> [round(schedule(step), 9) for step in (0, 299, 999)]
        [0.004, 0.1, 4e-07]
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, name="OneCycle"):
        _check_positive("total_steps", total_steps)
        _check_positive("div_factor", div_factor)
        _check_positive("final_div_factor", final_div_factor)
        if not 0 < pct_start < 1:
            raise ValueError(f"Received an invalid value for `pct_start`, expected a number in (0, 1). "
                             f"Received: pct_start={pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"Received an invalid value for `anneal_strategy`, expected 'cos' or 'linear'. "
                             f"Received: anneal_strategy={anneal_strategy!r}")
        self.max_learning_rate = max_learning_rate
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        self.name = name

    def _phases(self):
        """(last step, start rate, end rate) of each phase, as OneCycleLR lays them out."""
        initial = self.max_learning_rate / self.div_factor
        final = initial / self.final_div_factor
        rise_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [(rise_end, initial, self.max_learning_rate),
                    (2 * float(self.pct_start * self.total_steps) - 2, self.max_learning_rate, initial),
                    (self.total_steps - 1, initial, final)]
        return [(rise_end, initial, self.max_learning_rate), (self.total_steps - 1, self.max_learning_rate, final)]

    def __call__(self, step):
        step = min(float(step), self.total_steps - 1)
        phases = self._phases()
        start_step = 0.0
        for i, (end_step, start_rate, end_rate) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                length = end_step - start_step
                fraction = (step - start_step) / length if length > 0 else 1.0
                if self.anneal_strategy == "cos":
                    return float(end_rate + (start_rate - end_rate) / 2.0 * (math.cos(math.pi * fraction) + 1))
                return float((end_rate - start_rate) * fraction + start_rate)
            start_step = end_step

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "pct_start": self.pct_start, "anneal_strategy": self.anneal_strategy,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor,
                "three_phase": self.three_phase, "name": self.name}


_REGISTRY = Registry("learning rate schedule", [
    ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts,
    OneCycle,
])


def serialize(learning_rate_schedule):
    """`{"class_name": ..., "config": ...}` of a schedule.

    Example:
        >>> serialize(ExponentialDecay(0.1, 100, 0.9))["class_name"]
        'ExponentialDecay'
    """
    return _REGISTRY.serialize(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from `serialize`'s dict (Keras's files load too); `custom_objects` maps the class names
    of your own schedules to their classes.

    Example:
        >>> deserialize({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
        ...              "decay_steps": 100, "decay_rate": 0.9}})(100)
        0.09000000000000001
    """
    if isinstance(config, dict) and custom_objects and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(dict(config.get("config") or {}))
    return _REGISTRY.deserialize(config)
