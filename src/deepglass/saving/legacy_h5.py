"""Keras 2's HDF5 files: `model.save("m.h5")` (architecture, weights, training config) and
`model.save_weights("w.h5")` (weights only), as course material uses them.

A whole-model file has the attributes `model_config` and `training_config` (JSON) and a group `model_weights`; a
weights-only file is that group at the top. The weights group lists its layers in `layer_names`; each layer's group
lists its weights in `weight_names`, in the layer's order (trainable first). Layers are matched by position among
those that have weights, as Keras does, and everything is checked before anything is assigned.
"""
import json

import numpy as np

from deepglass.saving import h5_io, model_build, optimizer_state, weight_paths
from deepglass.saving.errors import SavedFileError
from deepglass.saving.keras_file import KERAS_FORMAT_VERSION, open_h5, parse_json
from deepglass.saving.serialization import serialize_keras_object

_CONFIG_LIMIT = 16 << 20  # as keras_file.CONFIG_LIMIT: JSON's memory is some 25 times its text
_HEADER_LIMIT = 64512  # HDF5's limit for one attribute; longer name lists are split as Keras does


# ------------------------------------------------------------------------------------------------------- saving
def save_model(model, path, overwrite=True, include_optimizer=True):
    """Write `model` in Keras 2's whole-model HDF5 layout."""
    serialized = serialize_keras_object(model)
    training = _training_config(serialized.pop("compile_config", None))

    def fill(h5file):
        h5file.attrs["backend"] = "torch"
        h5file.attrs["keras_version"] = KERAS_FORMAT_VERSION
        h5file.attrs["model_config"] = json.dumps(_legacy_config(serialized))
        if training is not None:
            h5file.attrs["training_config"] = json.dumps(training)
        write_weights(h5file.create_group("model_weights"), model)
        if include_optimizer and getattr(model, "optimizer", None) is not None:
            optimizer_state.write(h5file, model.optimizer)
    h5_io.write_file(path, fill, overwrite)


def save_weights(model, path, overwrite=True):
    """Write `model`'s weights in Keras 2's weights-only HDF5 layout."""
    h5_io.write_file(path, lambda h5file: write_weights(h5file, model), overwrite)


def write_weights(group, model):
    layers = _layers(model)
    _write_names(group, "layer_names", [layer.name for layer in layers])
    group.attrs["backend"] = "torch"
    group.attrs["keras_version"] = KERAS_FORMAT_VERSION
    for layer in sorted(layers, key=lambda layer: layer.name):
        layer_group = group.create_group(layer.name)
        names = []
        for owner, name, layout in _layer_triples(layer):
            label = f"{layer.name}/{name}" if owner is layer else f"{layer.name}/{owner.name}/{name}"
            label = label if label not in names else f"{label}_{len(names)}"
            names.append(label)
            h5_io.write(layer_group, label, weight_paths.keras_value(owner, name, layout))
        _write_names(layer_group, "weight_names", names)
    _write_names(group.create_group("top_level_model_weights"), "weight_names", [])


def _write_names(group, attribute, names):
    data = np.asarray([n.encode("utf8") for n in names])
    chunks = 1
    while data.nbytes > chunks * _HEADER_LIMIT and chunks < len(names):
        chunks += 1
    if chunks == 1:
        group.attrs[attribute] = data
    else:
        for index, part in enumerate(np.array_split(data, chunks)):
            group.attrs[f"{attribute}{index}"] = part


def _legacy_config(serialized):
    """Keras 3's config in the legacy form Keras writes into `.h5`: layer entries without `module`,
    `registered_name` and `build_config`."""
    def strip(entry):
        entry = {k: v for k, v in entry.items() if k not in ("module", "registered_name", "build_config",
                                                               "compile_config")}
        inner = entry.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
            entry["config"] = {**inner, "layers": [strip(layer) for layer in inner["layers"]]}
        return entry
    return strip(serialized)


def _training_config(compile_config):
    if not compile_config:
        return None
    config = dict(compile_config)
    config["loss"] = _canonical_losses(config.get("loss"))
    optimizer = config.pop("optimizer")
    config["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]} if \
        isinstance(optimizer, dict) else optimizer
    return config


def _canonical_losses(value):
    """Loss names as their functions' full names (`"mse"` -> `"mean_squared_error"`): Keras 3 reads only those
    from an `.h5` training config."""
    from deepglass import losses
    if isinstance(value, str):
        try:
            found = losses.get(value)
        except ValueError:
            return value
        return getattr(found, "__name__", value) if callable(found) and not isinstance(found, type) else value
    if isinstance(value, list):
        return [_canonical_losses(v) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _canonical_losses(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------------ loading
def load_model(path, custom_objects=None, compile=True, safe_mode=True):
    """The model in a Keras 2 (or Keras 3 legacy) whole-model `.h5` file."""
    label = str(path)
    with open_h5(path, label) as h5file:
        text = h5_io.text_attribute(h5file, "model_config", label, _CONFIG_LIMIT)
        if text is None:
            raise SavedFileError(label, "it has no model_config attribute: it holds weights only. Build the model "
                                        "in code and call model.load_weights() instead.")
        config = parse_json(text, label, "model_config")
        if not isinstance(config, dict):
            raise SavedFileError(label, "its model_config is not a JSON object.")
        config = {**config, "compile_config": None}
        try:
            weights = h5_io.group(h5file, "model_weights", label)
        except KeyError:
            raise SavedFileError(label, "it has no model_weights group.") from None
        model = model_build.build_checked(config, custom_objects, safe_mode, h5_io.declared_bytes(weights, label),
                                          label)
        values = read_weights(weights, model, label)
        state = None
        if compile:
            _compile(model, h5_io.text_attribute(h5file, "training_config", label, _CONFIG_LIMIT), custom_objects,
                     label)
            state = optimizer_state.read(h5file, model, label) if model.compiled else None
        _assign(values)
        optimizer_state.apply(model, state)
    return model


def _compile(model, text, custom_objects, label):
    if text is None:
        return
    training = parse_json(text, label, "training_config")
    if not isinstance(training, dict):
        raise SavedFileError(label, "its training_config is not a JSON object.")
    compile_config = {key: training.get(key) for key in ("loss", "loss_weights", "metrics", "weighted_metrics")}
    compile_config["optimizer"] = training.get("optimizer_config")
    from deepglass.saving.compile_config import compile_from_config
    from deepglass.saving.registration import CustomObjectScope
    try:
        with CustomObjectScope(custom_objects):
            compile_from_config(model, _with_kind(compile_config))
    except (ValueError, TypeError, KeyError) as error:
        raise SavedFileError(label, f"its training configuration cannot be rebuilt ({error}); pass compile=False "
                                    "and compile the model yourself.") from error


def _with_kind(compile_config):
    """Keras 2 writes objects without a module: tell the deserializer where each one belongs."""
    modules = {"optimizer": "keras.optimizers", "loss": "keras.losses", "metrics": "keras.metrics",
               "weighted_metrics": "keras.metrics"}

    def tag(value, module):
        if isinstance(value, list):
            return [tag(v, module) for v in value]
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            return {"module": module, **value} if "module" not in value else value
        if isinstance(value, dict):
            return {k: tag(v, module) for k, v in value.items()}
        return value
    return {key: tag(value, modules.get(key)) for key, value in compile_config.items()}


def load_weights(model, path, skip_mismatch=False):
    """Load a Keras 2 `.h5` weights file (or the weights of a whole-model `.h5`) into `model`."""
    label = str(path)
    with open_h5(path, label) as h5file:
        group = h5_io.group(h5file, "model_weights", label) if "model_weights" in h5file else h5file
        _assign(read_weights(group, model, label, skip_mismatch))


def read_weights(group, model, label, skip_mismatch=False):
    """[(triple, tensor)] for every weight of `model`, read by layer position after checking all shapes."""
    layers = [layer for layer in _layers(model) if _layer_triples(layer)]
    saved = []
    for name in _read_names(group, "layer_names", label):
        layer_group = _group(group, name, label)
        weight_names = _read_names(layer_group, "weight_names", label)
        if weight_names:
            saved.append((name, layer_group, weight_names))
    if len(saved) != len(layers):
        raise SavedFileError(label, f"the model has {len(layers)} layers with weights and the file "
                                    f"{len(saved)} ({[name for name, _, _ in saved][:8]}); load it into the "
                                    "architecture it was saved from.")
    planned, problems = [], []
    for layer, (name, layer_group, weight_names) in zip(layers, saved):
        triples = _layer_triples(layer)
        datasets = [_dataset(layer_group, weight_name, label) for weight_name in weight_names]
        shapes = [weight_paths.keras_shape(getattr(owner, attr), layout) for owner, attr, layout in triples]
        found = [tuple(d.shape) for d in datasets]
        if len(datasets) != len(triples) or found != shapes:
            problem = f"layer {layer.name!r} has weights of shapes {shapes} and the file's {name!r} {found}"
            if skip_mismatch:
                import warnings
                warnings.warn(f"{label}: skipping {problem}.", stacklevel=3)
                continue
            problems.append(problem)
            continue
        planned += list(zip(triples, datasets))
    if problems:
        raise SavedFileError(label, f"the weights do not match the model: {'; '.join(problems[:5])}.")
    return [(triple, h5_io.read_tensor(dataset, label)) for triple, dataset in planned]


def _assign(values):
    for (owner, name, layout), value in values:
        weight_paths.assign(owner, name, layout, value)


def _layers(model):
    from deepglass.models.functional import Functional
    from deepglass.saving.functional_config import model_layers
    return model_layers(model) if isinstance(model, Functional) else list(model.layers)


def _layer_triples(layer):
    """A layer's weights as Keras 2 lists them: trainable ones, then the others (sublayers' included)."""
    return layer._weight_triples("trainable") + layer._weight_triples("non_trainable")


def _read_names(group, attribute, label):
    if attribute in group.attrs:
        values = list(np.atleast_1d(group.attrs[attribute]))
    else:
        values, index = [], 0
        while f"{attribute}{index}" in group.attrs:
            values += list(np.atleast_1d(group.attrs[f"{attribute}{index}"]))
            index += 1
    names = [v.decode("utf8") if isinstance(v, bytes) else v for v in values]
    if not all(isinstance(n, str) for n in names):
        raise SavedFileError(label, f"the attribute {attribute!r} of {group.name!r} should list names.")
    return names


def _group(parent, name, label):
    try:
        return h5_io.group(parent, name, label)
    except KeyError:
        raise SavedFileError(label, f"it lists {name!r} in layer_names but has no group for it.") from None


def _dataset(group, path, label):
    folder, _, name = path.rpartition("/")
    try:
        parent = h5_io.group(group, folder, label) if folder else group
        if name not in parent:
            raise KeyError(name)
    except KeyError:
        raise SavedFileError(label, f"it lists weight {path!r} in {group.name!r} but has no dataset for it.") from None
    return h5_io.dataset(parent, name, label)
