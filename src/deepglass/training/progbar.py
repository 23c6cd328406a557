"""Progbar: Keras's one-line progress display (`12/422 ━━━━━━━━━━━━━━━━━━━━ 2s 6ms/step - loss: 0.4367`)."""
import math
import os
import re
import sys
from collections.abc import Mapping
from time import monotonic as _clock

import numpy as np

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOLD, _GREEN, _WHITE = "1", "32", "37"


def _is_terminal(stream):
    """Whether `\\r` rewrites a line on `stream`: a terminal, a Jupyter kernel or PyCharm's console."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


def format_eta(seconds):
    """Keras's ETA: `42s`, `2:05` past a minute, `1:02:05` past an hour."""
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def format_time_per_unit(seconds, unit_name="step"):
    """Keras's time per unit: `2s/step` from one second up (or exactly 0), else `6ms/step` or `85us/step`."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def format_value(value):
    """Keras's metric value: 4 decimals, scientific notation at or below 1e-3 in size (`0.4367`, `2.5000e-04`)."""
    try:
        value = float(np.mean(value))
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


class Progbar:
    """Displays a progress bar, as Keras does: one line per epoch, rewritten in place on a terminal.

    On a terminal (or in Jupyter) the line is redrawn with `\\r` at most every `interval` seconds and shows
    the ETA while running:
    `12/422 ━━━━━━━━━━━━━━━━━━━━ 2s 6ms/step - loss: 0.4367`; the final line shows the elapsed time.
    When the output is not a terminal (a log file, CI), `verbose=1` writes only the final line.
    `verbose=2` writes one line at the end: `422/422 - 3s - 6ms/step - loss: 0.4367`.
    Metrics are averaged over the steps (weighted by the steps each update covers) unless they are
    stateful; the final update (`finalize=True`) replaces each average by the value given.

    Arguments:
        target: total number of steps expected, or `None` if unknown.
        width: width of the bar, in characters.
        verbose: 0 (silent), 1 (a bar) or 2 (one line at the end).
        interval: least time between two redraws of the bar, in seconds.
        stateful_metrics: names of the metrics shown as given, not averaged. Give this or `stateless_metrics`.
        stateless_metrics: names of the metrics averaged; then every other metric is shown as given.
        unit_name: what a step is called in the time per step (`"step"`, `"sample"`).

    Example:
    >>> bar = Progbar(target=3)
    >>> for step in range(3):
    ...     bar.update(step + 1, [("loss", 0.5)])
    """

    def __init__(self, target, width=20, verbose=1, interval=0.1, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Received both `stateful_metrics` and `stateless_metrics`, expected at most one; "
                             "give `stateful_metrics` to average all but those, or `stateless_metrics` to "
                             "average only those.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = set(stateless_metrics) if stateless_metrics is not None else None
        self._dynamic_display = _is_terminal(sys.stdout)
        self._values = {}  # name -> [weighted sum, weight]; dict order is display order
        self._seen_so_far = 0
        self._start = _clock()
        self._last_update = None
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Record progress up to step `current` and redraw the bar when it is due.

        Arguments:
            current: index of the current step (1 after the first step).
            values: `(name, value)` pairs, or a mapping from name to value. A mapping's values are read
                only when needed (an averaged metric at each update, the others only when drawn), so a
                mapping whose values are costly to read is read rarely.
            finalize: whether this is the last update; `None` means `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = _clock()
        time_per_unit = self._estimate_step_duration(current, now)
        draw = self._is_due(now, finalize)
        if values and (draw or self.stateless_metrics != set()):
            self._record(current, values, finalize, draw)
        self._seen_so_far = current
        if draw:
            self._draw(current, now, time_per_unit, finalize)
            self._last_update = now

    def add(self, n, values=None):
        """Advance by `n` steps: `update(current + n, values)`."""
        self.update(self._seen_so_far + n, values)

    def _is_due(self, now, finalize):
        if self.verbose == 1 and self._dynamic_display and not finalize:
            return self._last_update is None or now - self._last_update >= self.interval
        return finalize and self.verbose in (1, 2)

    def _is_stateless(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current, values, finalize, draw):
        is_mapping = isinstance(values, Mapping)
        if finalize:
            # The final line lists the final values first, in their order (the epoch logs' order).
            earlier, self._values = self._values, {}
        for item in values:
            name = item if is_mapping else item[0]
            stateless = self._is_stateless(name)
            if not (stateless or draw):
                continue  # a value shown as given matters only when it is drawn: skip reading it
            value = values[name] if is_mapping else item[1]
            if not stateless or finalize:
                # The final update carries the epoch's own averages: show them as given.
                self._values[name] = [value, 1]
                continue
            # Weight by the steps this update covers, so skipped updates do not bias the average.
            weight = max(current - self._seen_so_far, 1)
            total = self._values.get(name)
            if total is None:
                self._values[name] = [value * weight, weight]
            else:
                total[0] += value * weight
                total[1] += weight
        if finalize:
            self._values.update((name, total) for name, total in earlier.items() if name not in self._values)

    def _estimate_step_duration(self, current, now):
        """Seconds per step, leaving out the first step (compilation, warm-up) once there are more."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    def _metrics_text(self):
        return "".join(f" - {name}: {format_value(total if count == 1 else np.mean(total) / count)}"
                       for name, (total, count) in self._values.items())

    def _count(self, current):
        return "%*d/%d" % (int(math.log10(self.target)) + 1, current, self.target)  # `%d` also takes floats

    def _style(self, text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if self._dynamic_display else text

    def _draw(self, current, now, time_per_unit, finalize):
        known = self.target is not None and self.target > 0
        if self.verbose == 2:
            if known:
                self._write(f"{self._count(current)} - {now - self._start:.0f}s - "
                            f"{format_time_per_unit(time_per_unit, self.unit_name)}{self._metrics_text()}\n")
            return
        if known:
            done = min(int(self.width * current / self.target), self.width)
            bar = self._style(self._count(current), _BOLD) + " "
            bar += self._style("━" * done, _GREEN) if done else ""
            bar += self._style("━" * (self.width - done), _WHITE)
        else:
            bar = "%7d/Unknown" % current
        running = known and not finalize
        clock = format_eta(time_per_unit * (self.target - current)) if running else f"{now - self._start:.0f}s"
        line = f"{bar} {self._style(clock, _BOLD)} {format_time_per_unit(time_per_unit, self.unit_name)}"
        line += self._metrics_text()
        if not self._dynamic_display:
            self._write(line + "\n")
            return
        width = len(_ANSI.sub("", line))
        padding = " " * max(self._prev_total_width - width, 0)  # clear what a longer previous line left
        self._prev_total_width = width
        self._write("\r" + line + padding + ("\n" if finalize else ""))

    @staticmethod
    def _write(message):
        stream = sys.stdout  # looked up now: redirections made after construction are honoured
        try:
            stream.write(message)
        except UnicodeEncodeError:
            stream.write(message.replace("━", "="))
        stream.flush()
