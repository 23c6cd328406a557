"""What `compile` was given, as Keras 3's `compile_config`, and `compile` again from it."""
import warnings

from deepglass.saving import serialization


def get_compile_config(model):
    """`{"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", ...}` of a compiled model, else None.

    The optimizer is the model's optimizer object (so its learning rate and settings are kept); losses and metrics
    are saved as given: names as names, objects and functions in Keras's form. A loss or metric that cannot be
    written as a config (a lambda, say) leaves the file without compile information, with a warning.
    """
    if not getattr(model, "compiled", False):
        return None
    args = getattr(model, "_compile_args", {})
    try:
        return {"optimizer": serialization.serialize_keras_object(model.optimizer),
                "loss": serialization.serialize_keras_object(args.get("loss")),
                "loss_weights": serialization.serialize_keras_object(args.get("loss_weights")),
                "metrics": serialization.serialize_keras_object(args.get("metrics")),
                "weighted_metrics": serialization.serialize_keras_object(args.get("weighted_metrics")),
                "run_eagerly": getattr(model, "_run_eagerly", False), "steps_per_execution": 1,
                "jit_compile": getattr(model, "_jit_compile", False)}
    except (TypeError, ValueError) as error:
        warnings.warn(f"The model's compile arguments cannot be saved ({error}); the file will hold an uncompiled "
                      "model. Register custom losses and metrics with @deepglass.saving.register_serializable(), "
                      "or call compile() again after loading.", stacklevel=4)
        return None


def compile_from_config(model, config):
    """Compile `model` with the arguments a compile config records (objects rebuilt by the safe deserializer)."""
    if not isinstance(config, dict):
        raise ValueError(f"Expected a compile config dict; received: {type(config).__name__}.")
    values = serialization.deserialize_value(config)
    model.compile(optimizer=values.get("optimizer") or "rmsprop", loss=values.get("loss"),
                  loss_weights=values.get("loss_weights"), metrics=values.get("metrics"),
                  weighted_metrics=values.get("weighted_metrics"), jit_compile=values.get("jit_compile") is True,
                  run_eagerly=values.get("run_eagerly") is True)
