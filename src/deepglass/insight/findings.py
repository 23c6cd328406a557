"""Finding: one thing training shows (overfitting, vanishing gradients, ...), with its numbers and advice."""
import dataclasses
import math


@dataclasses.dataclass
class Finding:
    """One thing the learning curves or the training monitor show, the numbers behind it, and what to do.

    Arguments:
        name: a stable identifier such as `"overfitting"` or `"vanishing_gradients"` (lists in
            `deepglass.insight.CURVE_FINDINGS` and `deepglass.insight.MONITOR_FINDINGS`).
        summary: what was seen, as a phrase with its numbers (`"overfitting from epoch 7 (best epoch 5)"`).
        advice: what to do about it, as a phrase (`"consider EarlyStopping(...)"`).
        epochs: the epochs concerned, counted from 1 as the progress bar counts them.
        evidence: the numbers behind the finding, by name (Python floats and ints).
        layers: the names of the layers concerned (monitor findings).

    Example:
    >>> finding = history.diagnose()[0]
    >>> finding.name, finding.epochs[:2]
    ('overfitting', [7, 8])
    >>> print(finding)
    Overfitting from epoch 7 (best epoch 5).
      Evidence: best_epoch=5, best_val_loss=0.1905, ...
      Advice: consider EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True), ...
    """

    name: str
    summary: str
    advice: str
    epochs: list = dataclasses.field(default_factory=list)
    evidence: dict = dataclasses.field(default_factory=dict)
    layers: list = dataclasses.field(default_factory=list)

    @property
    def is_problem(self):
        """False only for the `good_fit` finding, which says that nothing is wrong."""
        return self.name != "good_fit"

    def to_dict(self):
        """The finding as plain, JSON-safe data (non-finite numbers become None)."""
        data = dataclasses.asdict(self)
        data["evidence"] = {key: _json_number(value) for key, value in self.evidence.items()}
        return data

    def __str__(self):
        lines = [self.summary[:1].upper() + self.summary[1:] + "."]
        if self.layers:
            lines.append("  Layers: " + ", ".join(self.layers))
        if self.evidence:
            lines.append("  Evidence: " + ", ".join(f"{key}={_format(value)}" for key, value in self.evidence.items()))
        lines.append(f"  Advice: {self.advice}.")
        return "\n".join(lines)


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def one_line(findings):
    """`Insight: ...`: the first problem's summary and advice, how many more there are, or `no problems found`."""
    problems = [finding for finding in findings if finding.is_problem]
    if not problems:
        return "Insight: no problems found"
    first = problems[0]
    line = f"Insight: {first.summary}; {first.advice}"
    if len(problems) > 1:
        others = ", ".join(finding.name.replace("_", " ") for finding in problems[1:])
        line += f" (also: {others}; see history.diagnose())"
    return line
