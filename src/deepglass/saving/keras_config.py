"""Layer configs written by Keras 3, adapted to deepglass's constructors.

Keras writes a layer's `dtype` as a `DTypePolicy` object (read here as its name) and adds keys for features
deepglass does not have (`quantization_config`, `ragged`, LoRA). A key left at its neutral value is dropped; one that
asks for the feature raises an error naming it, rather than loading a model that computes something else.
"""
import inspect

# Keras-only constructor keys and the value that means "feature not used".
_NEUTRAL = {"quantization_config": None, "ragged": False, "lora_rank": None, "lora_alpha": None,
            "gradient_checkpointing": False}
_POLICIES = ("DTypePolicy", "FloatDTypePolicy")


def normalize_layer_config(cls, config):
    """`config` (a layer's `"config"` dict) with Keras's dtype policies as dtype names and neutral Keras-only keys
    dropped; nested layer configs are adapted too."""
    config = _policies_to_names(config)
    accepted = _accepted_keys(cls)
    for key, neutral in _NEUTRAL.items():
        if key in config and key not in accepted:
            if config[key] != neutral:
                raise ValueError(f"{cls.__name__} config asks for {key}={config[key]!r}, a Keras feature deepglass "
                                 f"does not support; save the model with {key}={neutral!r}.")
            del config[key]
    return config


def _policies_to_names(value):
    if isinstance(value, list):
        return [_policies_to_names(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        if key == "dtype" and isinstance(item, dict) and item.get("class_name") in _POLICIES:
            item = policy_dtype(item)
        elif isinstance(item, dict) and isinstance(item.get("config"), dict) and _layer_class(item.get("class_name")):
            item = {**item, "config": normalize_layer_config(_layer_class(item["class_name"]), item["config"])}
        else:
            item = _policies_to_names(item)
        result[key] = item
    return result


def policy_dtype(policy):
    """The name of a Keras `DTypePolicy` config (`"float32"`, `"mixed_float16"`), which layers take as `dtype`."""
    return (policy.get("config") or {}).get("name", "float32")


def _layer_class(class_name):
    from deepglass import layers
    return layers._registry.classes.get(class_name) if isinstance(class_name, str) else None


def _accepted_keys(cls):
    keys = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys.update(inspect.signature(init).parameters)
    return keys
