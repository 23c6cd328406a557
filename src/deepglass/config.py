"""Global settings: float type, epsilon, image data format, the device models train on, random seeds."""
import os
import random
import threading

import numpy as np
import torch

from deepglass import naming

_FORMATS = ("channels_last", "channels_first")
_settings = {
    "floatx": "float32",
    "epsilon": 1e-7,
    "image_data_format": os.environ.get("DEEPGLASS_IMAGE_DATA_FORMAT", "channels_last"),
    "device": None,
}


def floatx():
    """The default float type as a string, `"float32"` unless changed with `set_floatx`."""
    return _settings["floatx"]


def set_floatx(value):
    """Set the default float type: `"float16"`, `"bfloat16"`, `"float32"` or `"float64"`."""
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"Expected floatx to be one of float16, bfloat16, float32, float64; got {value!r}.")
    _settings["floatx"] = value


def epsilon():
    """The fuzz factor used to keep divisions and logarithms finite (Keras's default: 1e-7)."""
    return _settings["epsilon"]


def set_epsilon(value):
    """Set the fuzz factor returned by `epsilon()`."""
    _settings["epsilon"] = float(value)


def image_data_format():
    """`"channels_last"` (Keras's default: `(batch, height, width, channels)`) or `"channels_first"`."""
    return _settings["image_data_format"]


def set_image_data_format(value):
    """Set the default layout of image tensors for layers created from now on."""
    if value not in _FORMATS:
        raise ValueError(f"Expected image_data_format to be one of {_FORMATS}; got {value!r}.")
    _settings["image_data_format"] = value


def device():
    """The `torch.device` models train on: the one set with `set_device`, else CUDA when present, else CPU."""
    chosen = _settings["device"]
    if chosen is None:
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if chosen.type == "cuda" and chosen.index is None:  # with its index, to equal the `.device` of tensors on it
        return torch.device("cuda", torch.cuda.current_device())
    return chosen


def set_device(value):
    """Choose the device for training (`"cpu"`, `"cuda"`, `"cuda:1"`, a `torch.device`, or None for automatic)."""
    _settings["device"] = None if value is None else torch.device(value)


def standardize_dtype(dtype=None):
    """Turn `None` (the float type), a string such as `"float32"`, a NumPy or a torch dtype into a `torch.dtype`."""
    if dtype is None:
        dtype = floatx()
    if isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    result = getattr(torch, name, None)
    if not isinstance(result, torch.dtype):
        raise ValueError(f"Expected a dtype name such as 'float32' or 'int64'; got {dtype!r}.")
    return result


def set_random_seed(seed):
    """Seed Python's, NumPy's and torch's generators, so that two runs give identical weights and batches."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Expected an integer seed; got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


_safe_mode = [True]  # the process-wide setting
_thread_safe_mode = threading.local()  # a `SafeModeScope`'s setting, for the thread that entered it only


def enable_unsafe_deserialization():
    """Allow loading configs that carry Python code (Lambda layers). Only do this for files you wrote yourself."""
    _safe_mode[0] = False


@naming.on_clear_session
def _forget_unsafe_deserialization():
    _safe_mode[0] = True


def in_safe_mode():
    """True unless `enable_unsafe_deserialization()` was called (or a load with `safe_mode=False` is running in this
    thread): loading then refuses to run code from a file."""
    scoped = getattr(_thread_safe_mode, "value", None)
    return _safe_mode[0] if scoped is None else scoped


def _scoped_safe_mode(value):
    """Set this thread's safe mode (None: follow the process-wide setting); returns the previous scoped value. Per
    thread, so a trusted load with safe_mode=False in one thread opens nothing to a load in another."""
    previous = getattr(_thread_safe_mode, "value", None)
    _thread_safe_mode.value = value
    return previous


_insight = [True]


def set_insight(enabled):
    """Turn on (the default) or off the one-line summary of training findings that `fit(..., verbose=1)` prints
    at its end (see `deepglass.insight.diagnose`)."""
    if not isinstance(enabled, bool):
        raise ValueError(f"Expected set_insight(True) or set_insight(False); got {enabled!r}.")
    _insight[0] = enabled


def insight_enabled():
    """Whether `fit(..., verbose=1)` ends with a one-line summary of what its learning curves show."""
    return _insight[0]


def dtype_policy():
    """The global dtype policy, `"float32"` unless set (see `deepglass.mixed_precision`)."""
    from deepglass.mixed_precision import policy
    return policy.dtype_policy()


def set_dtype_policy(policy):
    """Set the dtype policy of the layers created from now on: `"mixed_float16"`, `"mixed_bfloat16"`, `"float32"`
    or a `DTypePolicy` (see `deepglass.mixed_precision`)."""
    from deepglass.mixed_precision import policy as policies
    policies.set_dtype_policy(policy)
