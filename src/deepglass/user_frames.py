"""Where a warning raised inside deepglass should point: the user's line that called into it."""
import sys


def user_stacklevel():
    """The `stacklevel` that makes a warning raised by this function's caller point at the first frame outside
    deepglass (through any number of deepglass calls: `fit_generator` calls `fit`, which calls a helper)."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("deepglass."):
        frame, level = frame.f_back, level + 1
    return level
