"""`clone_model`: the same architecture with new weights."""
from deepglass.saving.serialization import SafeModeScope


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with `model`'s architecture and freshly initialised weights (layers are not shared).

    Arguments:
        model: a Sequential or functional model (a subclassed model has no architecture to copy).
        input_tensors: symbolic tensors (from `Input`) to build the clone on, instead of new inputs.
        clone_function: `f(layer) -> new layer` for each layer (default: `layer.__class__.from_config(
            layer.get_config())`); return the layer itself to share it.

    Example:
        >>> twin = deepglass.models.clone_model(model)
        >>> twin.compile(optimizer="adam", loss="mse")
    """
    from deepglass.layers.core import Input, InputLayer
    from deepglass.models.functional import Functional
    from deepglass.models.sequential import Sequential
    from deepglass.saving.functional_config import functional_from_config
    from deepglass.utils import tree
    clone = clone_function or _fresh_copy
    if isinstance(model, Sequential):
        new = Sequential(name=model.name, trainable=model.trainable)
        if input_tensors is not None:
            new.add(tree.flatten(input_tensors)[0])
        elif model.inputs:
            new.add(Input(batch_shape=model.input_shape, dtype=model.inputs[0].dtype, name=model.inputs[0].name))
        for layer in model.layers:
            new.add(clone(layer))
        return new
    if not isinstance(model, Functional):
        raise ValueError(f"clone_model expects a Sequential or functional model; {type(model).__name__} is a "
                         "subclassed model, whose architecture lives in its code: create a new instance instead.")
    layers = {layer.name: layer for layer in model.layers}
    replacements = None
    if input_tensors is not None:
        given = tree.flatten(input_tensors)
        if len(given) != len(model.inputs):
            raise ValueError(f"clone_model got {len(given)} input tensors for a model with {len(model.inputs)} "
                             "inputs.")
        replacements = {t._keras_history[0].name: new for t, new in zip(model.inputs, given)}

    def make_layer(entry):
        layer = layers[entry["name"]]
        return _fresh_copy(layer) if isinstance(layer, InputLayer) else clone(layer)

    config = model.get_config()
    return functional_from_config(type(model), config, make_layer=make_layer, input_tensors=replacements)


def _fresh_copy(layer):
    """The layer rebuilt from its config. Its code (a Lambda's function) comes from this process, not from a file,
    so rebuilding it is safe."""
    with SafeModeScope(False):
        return layer.__class__.from_config(layer.get_config())
