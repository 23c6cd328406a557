"""Build a model from a file's config, checking first that the config does not ask for more memory than the file's
weights could fill.

A config is small and can describe an enormous model (`Dense(10**9)`). Before the real build, the model is built on
torch's "meta" device, which allocates nothing; if its weights need more bytes than the file's weights declare,
the file is refused. Layers that cannot be built on the meta device skip this check (the per-weight shape check
after the build still refuses a mismatch).
"""
import torch

from deepglass.saving import serialization
from deepglass.saving.errors import SavedFileError

_SLACK_BYTES = 1 << 20  # buffers that are not weights (counters) may need a little more than the weights file


def build_checked(config, custom_objects, safe_mode, available_bytes, label):
    """The model `config` describes, refused when its weights would need more than `available_bytes`."""
    with serialization.SafeModeScope(safe_mode):
        needed = _weight_bytes_on_meta(config, custom_objects, label)
        if needed is not None and needed > available_bytes + max(_SLACK_BYTES, available_bytes // 10):
            raise SavedFileError(label, f"its config describes a model with {needed} bytes of weights, but the "
                                        f"file holds only {available_bytes} bytes of weights; the config does not "
                                        "match its weights.")
        return build(config, custom_objects, safe_mode, label)


def build(config, custom_objects, safe_mode, label):
    """`deserialize_keras_object(config)` with errors naming the file."""
    from deepglass.layers.layer import Layer
    try:
        model = serialization.deserialize_keras_object(config, custom_objects, safe_mode)
    except SavedFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise SavedFileError(label, f"its config cannot be rebuilt: {error}") from error
    if not isinstance(model, Layer):
        raise SavedFileError(label, f"its config describes a {type(model).__name__}, not a model.")
    return model


def _weight_bytes_on_meta(config, custom_objects, label):
    dry = {**config, "compile_config": None}
    try:
        with torch.device("meta"):
            model = build(dry, custom_objects, serialization.global_config.in_safe_mode(), label)
    except SavedFileError:
        raise
    except Exception:  # a layer that computes on values while it builds: no estimate, not an error
        return None
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
