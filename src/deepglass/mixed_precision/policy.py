"""Dtype policies: the float type a layer keeps its weights in and the one it computes in (Keras's mixed precision).

`"float32"` (or any dtype name) computes and stores in that type; `"mixed_float16"` and `"mixed_bfloat16"` keep
float32 weights and compute in float16 / bfloat16 under `torch.autocast`. The global policy is the default of every
layer created afterwards.
"""
import os
import warnings

import torch

from deepglass import config, naming

_MIXED = {"mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
_KNOWN = ("float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")
_global = [None]  # the policy set with `set_dtype_policy`; None: `floatx()`'s
_warned_cpu = set()


class DTypePolicy:
    """A dtype policy: the `variable_dtype` a layer creates its weights in and the `compute_dtype` it computes in.

    Arguments:
        name: `"mixed_float16"` or `"mixed_bfloat16"` (float32 weights, float16 / bfloat16 computation, as
            `torch.autocast` does it), or a dtype name such as `"float32"` (both dtypes that one). None: the name
            of the global policy.

    Pass a policy (or its name) as a layer's `dtype=`, or set it for all new layers with `set_global_policy`.

    Example:
        >>> policy = deepglass.mixed_precision.DTypePolicy("mixed_float16")
        >>> policy.compute_dtype, policy.variable_dtype
        ('float16', 'float32')
        >>> deepglass.layers.Dense(10, dtype=policy).dtype_policy
        <DTypePolicy "mixed_float16">
    """

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: name={name!r} "
                            f"(of type {type(name).__name__})")
        self._name = name
        self._compute_dtype, self._variable_dtype = _parse(name)

    @property
    def name(self):
        """The policy's name, e.g. `"mixed_float16"`."""
        return self._name

    @property
    def compute_dtype(self):
        """The dtype layers compute in (and usually return), as a string."""
        return self._compute_dtype

    @property
    def variable_dtype(self):
        """The dtype layers create their weights in, as a string."""
        return self._variable_dtype

    @property
    def quantization_mode(self):
        """None: deepglass has no quantized policies."""
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and self._name == other._name

    def __hash__(self):
        return hash(self._name)


class FloatDTypePolicy(DTypePolicy):
    """Keras's other name for `DTypePolicy`."""


def _parse(name):
    if name in _MIXED:
        return _MIXED[name]
    try:
        dtype = str(config.standardize_dtype(name)).replace("torch.", "")
    except (TypeError, ValueError):
        dtype = None
    if dtype is None:  # not a dtype either: the error lists the usual policies and the closest one
        naming.lookup("dtype policy (mixed_float16, mixed_bfloat16 or a dtype name)", name,
                      {known: known for known in _KNOWN})
    return dtype, dtype


def is_mixed(policy):
    """Whether `policy` computes in another type than it stores weights in."""
    return policy.compute_dtype != policy.variable_dtype


# ------------------------------------------------------------------------------------------------ the global policy
def set_dtype_policy(policy):
    """Set the default policy of the layers created from now on (`"mixed_float16"`, `"mixed_bfloat16"`, `"float32"`
    or a `DTypePolicy`).

    On a CPU without native half-precision instructions a half policy runs, slowly, and warns once.

    Example:
        >>> deepglass.mixed_precision.set_global_policy("mixed_float16")
        >>> deepglass.layers.Dense(10).compute_dtype
        'float16'
        >>> deepglass.mixed_precision.set_global_policy("float32")
    """
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError("Invalid `policy` argument. Expected the string name of a policy (such as "
                             f"'mixed_float16') or a `DTypePolicy` instance. Received: policy={policy!r} "
                             f"(of type {type(policy).__name__})")
        policy = DTypePolicy(policy)
    _global[0] = policy
    warn_if_slow_on_cpu(policy)


def dtype_policy():
    """The global policy: the one set with `set_dtype_policy`, else `floatx()`'s (`"float32"`)."""
    return _global[0] if _global[0] is not None else DTypePolicy(config.floatx())


@naming.on_clear_session
def _forget_global_policy():
    _global[0] = None


set_global_policy = set_dtype_policy  # Keras 2's names, kept by Keras 3 in `keras.mixed_precision`
global_policy = dtype_policy


# ------------------------------------------------------------------------------------- get, serialize, deserialize
def get(identifier):
    """A policy from None (the global one), a name, a config dict, a dtype or a policy (returned as it is).

    Example:
        >>> get("mixed_bfloat16").compute_dtype
        'bfloat16'
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(str(config.standardize_dtype(identifier)).replace("torch.", ""))
    except (TypeError, ValueError):
        raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance of DTypePolicy. "
                         f"Received: dtype={identifier!r}") from None


def serialize(policy):
    """Keras's form of a policy: `{"module": "keras", "class_name": "DTypePolicy", "config": {"name": ...}, ...}`."""
    return {"module": "keras", "class_name": type(policy).__name__, "config": policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    """A policy from `serialize`'s dict (Keras's files load too) or a name.

    Example:
        >>> deserialize({"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}})
        <DTypePolicy "mixed_float16">
    """
    if isinstance(config, str):
        return DTypePolicy(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a dtype policy name or a dict with keys 'class_name' and 'config'; received: "
                         f"{config!r}.")
    name = config["class_name"]
    classes = {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": FloatDTypePolicy, **(custom_objects or {})}
    if name not in classes:
        raise ValueError(f"Unknown dtype policy class {name!r}: deepglass has DTypePolicy and FloatDTypePolicy (no "
                         "quantized policies); save the model with a float policy such as 'float32'.")
    return classes[name].from_config(dict(config.get("config") or {}))


# ------------------------------------------------------------------------------------------- half types on a CPU
def warn_if_slow_on_cpu(policy):
    """Warn once per type when `policy` computes in float16 / bfloat16 on a CPU that emulates that type."""
    half = policy.compute_dtype
    if half not in ("float16", "bfloat16") or half in _warned_cpu or config.device().type != "cpu":
        return
    if native_cpu_support(half):
        return
    _warned_cpu.add(half)
    warnings.warn(_SLOW_CPU[half], stacklevel=3)


_SLOW_CPU = {
    "bfloat16": "The dtype policy computes in bfloat16, but this CPU has no bfloat16 instructions (avx512_bf16 or "
                "amx_bf16), so PyTorch emulates them: training a small convolutional network with fit took 1.7x to "
                "1.9x as long as in float32 on such a CPU (AVX-512 or AVX2 only). Use set_global_policy('float32') "
                "here, and mixed_bfloat16 on a GPU or a CPU with bfloat16 instructions.",
    "float16": "The dtype policy computes in float16, but this CPU has no float16 instructions (avx512_fp16 or "
               "amx_fp16), so PyTorch emulates them: training a small convolutional network with fit took 2x to 5x "
               "as long as in float32 on such a CPU. Use set_global_policy('float32') here, and mixed_float16 on a "
               "GPU.",
}
_NATIVE_FLAGS = {"bfloat16": {"avx512_bf16", "amx_bf16", "bf16"}, "float16": {"avx512_fp16", "amx_fp16", "fphp"}}


def native_cpu_support(half):
    """Whether this CPU computes `half` (`"float16"` or `"bfloat16"`) with its own instructions, from the flags of
    /proc/cpuinfo (x86: avx512_bf16 / amx_bf16, avx512_fp16 / amx_fp16; Arm: bf16, fphp); elsewhere oneDNN says."""
    flags = _cpu_flags()
    if flags is not None:
        return bool(flags & _NATIVE_FLAGS[half])
    check = {"bfloat16": "_is_mkldnn_bf16_supported", "float16": "_is_mkldnn_fp16_supported"}[half]
    try:
        return bool(getattr(torch.ops.mkldnn, check)())
    except (AttributeError, RuntimeError):
        return False


def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo, or None where there is none (macOS, Windows)."""
    if not os.path.exists("/proc/cpuinfo"):
        return None
    flags = set()
    with open("/proc/cpuinfo") as file:
        for line in file:
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                flags.update(value.split())
    return flags or None
