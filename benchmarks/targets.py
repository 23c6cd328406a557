"""The speed targets of the training and inference workloads, judged on each section's own figures (one run).

- deepglass with its defaults takes at most 1.05x the time of the hand-written loop (the tuned loop; for W6 the
  inference loop) on every workload, and at most 0.8x the tutorial loop's on W1 (fused optimizer);
- it is at least 2x faster than Keras 3 on W1 and W5 and 1.2x on W2 to W4;
- it is faster than Lightning wherever Lightning runs.

A missed Keras target gets its evidence: the time that 2x (or 1.2x) faster would need, against the time the
workload's operators alone take on the tuned loop (`overhead.operator_ms`); a framework cannot go below the
operators it runs.
"""
from benchmarks import overhead
from benchmarks.contenders import BASELINE, TUNED

DEEPGLASS = "deepglass"
KERAS = "keras 3"
LIGHTNING = "lightning"
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W8")  # the issue's; L1 is a probe
HAND_WRITTEN_LIMIT = 1.05
TUTORIAL_LIMIT = {"W1": 0.8}
KERAS_SPEEDUP = {"W1": 2.0, "W5": 2.0, "W2": 1.2, "W3": 1.2, "W4": 1.2}
INFERENCE_MODES = ("predict", "evaluate")


def training_notes(key, ms_per_step, operator_ms=None):
    """The target lines of training section `key`, from `{contender: ms per step}`; `operator_ms()` gives the
    operators' time per step on the tuned loop, asked for only when a Keras target is missed."""
    mine = ms_per_step.get(DEEPGLASS)
    if mine is None:
        return []
    notes = [_at_most(DEEPGLASS, mine, ms_per_step.get(TUNED), HAND_WRITTEN_LIMIT, "the tuned loop's", TUNED)]
    if key in TUTORIAL_LIMIT:
        notes.append(_at_most(DEEPGLASS, mine, ms_per_step.get(BASELINE), TUTORIAL_LIMIT[key], "the tutorial loop's",
                              BASELINE))
    if key in KERAS_SPEEDUP:
        notes.append(_keras(mine, ms_per_step.get(KERAS), KERAS_SPEEDUP[key], operator_ms))
    if key in KERAS_SPEEDUP or LIGHTNING in ms_per_step:
        notes.append(_faster(mine, ms_per_step.get(LIGHTNING), 1.0, "Lightning", LIGHTNING))
    return notes


def inference_notes(ms_per_batch, baseline):
    """The target lines of W6: deepglass's predict and evaluate against `baseline`'s (the inference loop's name)."""
    return [_at_most(f"{DEEPGLASS} {mode}", ms_per_batch[f"{DEEPGLASS} {mode}"],
                     ms_per_batch.get(f"{baseline} {mode}"), HAND_WRITTEN_LIMIT, "the inference loop's", baseline)
            for mode in INFERENCE_MODES if f"{DEEPGLASS} {mode}" in ms_per_batch]


def _at_most(subject, mine, theirs, limit, whose, name):
    head = f"target: {subject} at most {limit:g}x {whose} time"
    if theirs is None:
        return f"{head} (not measured: {name} did not run)"
    ratio = mine / theirs
    return f"{head} ({'met' if ratio <= limit else 'missed'}: {ratio:.2f}x)"


def _faster(mine, theirs, speedup, what, name, why_missed=None):
    """The note of a speed-up target; `why_missed(needed_ms)`, when given, adds to a missed one what it says."""
    head = f"target: deepglass {'faster than' if speedup == 1 else f'at least {speedup:g}x faster than'} {what}"
    if theirs is None:
        return f"{head} (not measured: {name} did not run)"
    ratio = theirs / mine
    if ratio >= speedup:
        return f"{head} (met: {ratio:.2f}x faster)"
    because = "" if why_missed is None else f"; {why_missed(theirs / speedup)}"
    return f"{head} (missed: {ratio:.2f}x faster{because})"


def _keras(mine, theirs, speedup, operator_ms):
    def why_missed(needed):
        return (f"{speedup:g}x needs at most {needed:.2f} ms a step, and the workload's operators alone take "
                f"{operator_ms():.2f} ms a step on the tuned loop, measured {overhead.how_measured()}")
    return _faster(mine, theirs, speedup, "Keras 3", KERAS, None if operator_ms is None else why_missed)
