"""Every random-number generator a training run draws from, captured and restored as one value.

A resumed run repeats an uninterrupted one bit for bit only if it draws the same random numbers: torch's global
generators (CPU and each CUDA device), NumPy's and Python's global generators, and the `torch.Generator` that a
seeded layer (Dropout, noise and augmentation layers with `seed=`) keeps as an attribute. The captured value holds
only tensors, numbers, strings and lists, so it is saved and loaded with `torch.load(weights_only=True)`.
"""
import random

import numpy as np
import torch


def capture(model=None):
    """The state of every generator, as a dict (of CPU tensors, numbers and lists)."""
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gauss)],
        "python": [version, list(internal), gauss],
        "layers": _layer_generators(model) if model is not None else [],
    }


def restore(state, model=None):
    """Put every generator back to `capture`'s `state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, position, has_gauss, cached_gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gauss))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if model is not None:
        _restore_layer_generators(model, state["layers"])


def _layer_generators(model):
    """`[[module position, attribute, device, state], ...]` for each torch.Generator a module of `model` holds.

    Modules are named by position (in `model.modules()` order) rather than by path, since the automatic layer
    names of two copies of a model built in one process differ (dropout, dropout_1, ...)."""
    found = []
    for position, module in enumerate(model.modules()):
        for attribute, value in vars(module).items():
            if isinstance(value, torch.Generator):
                found.append([position, attribute, str(value.device), value.get_state()])
    return found


def _restore_layer_generators(model, saved):
    modules = list(model.modules())
    for position, attribute, device, generator_state in saved:
        if position >= len(modules):
            raise ValueError(f"The saved random state belongs to module number {position} of a model with more "
                             f"modules than this one ({len(modules)}); restore it into the model it came from.")
        generator = torch.Generator(device=device)  # a lazily created generator may not exist yet
        generator.set_state(generator_state)
        setattr(modules[position], attribute, generator)
