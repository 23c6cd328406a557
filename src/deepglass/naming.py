"""Names: string look-ups with helpful errors, snake_case, and unique auto names (`dense`, `dense_1`)."""
import collections
import difflib
import gc
import re
import sys

_name_counts = collections.Counter()


def lookup(kind, name, table):
    """Return `table[name]` (case-insensitive), or raise a ValueError listing the valid names and the closest one."""
    key = name.lower() if isinstance(name, str) else name
    if key in table:
        return table[key]
    valid = sorted(table)
    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown {kind}: {name!r}.{hint} Valid names: {', '.join(valid)}.")


def to_snake_case(name):
    """`Conv2DTranspose` -> `conv2d_transpose`, as Keras names layers."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """`base` the first time, then `base_1`, `base_2`, ... within this session (see `clear_session`)."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


_session_resets = []


def on_clear_session(reset):
    """Have `clear_session` call `reset()`, which puts one piece of global state back to its default (the modules
    that keep such state register here, so that this module imports none of them). Returns `reset`."""
    _session_resets.append(reset)
    return reset


def clear_session(free_memory=True):
    """Reset the global state deepglass keeps, as Keras's `clear_session` does.

    What Keras resets, deepglass resets too: the automatic names (the next Dense is called `dense` again), the
    global dtype policy (back to `floatx()`'s; `set_floatx` itself stays), the distribution (as in a fresh process:
    `DataParallel()` again by itself under torchrun), `enable_unsafe_deserialization()` (safe mode is on again) and
    torch.compile's caches. The float type, epsilon, image data format, device and random generators stay.

    Arguments:
        free_memory: run Python's garbage collector, so that models no longer referenced free their memory now
            (it takes a noticeable fraction of a second: pass False in a short loop).

    Example:
    >>> deepglass.mixed_precision.set_global_policy("mixed_float16")
    >>> deepglass.clear_session()
    >>> deepglass.mixed_precision.global_policy()
    <DTypePolicy "float32">
    """
    _name_counts.clear()
    for reset in _session_resets:
        reset()
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is not None:  # only torch.compile loads it: without it there is nothing compiled to forget
        dynamo.reset()
    if free_memory:
        gc.collect()
