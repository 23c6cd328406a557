"""Names: string look-ups with helpful errors, snake_case, and unique auto names (`dense`, `dense_1`)."""
import collections
import difflib
import re

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


def clear_session():
    """Forget the names handed out so far, so the next Dense is called `dense` again."""
    _name_counts.clear()
