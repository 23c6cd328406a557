"""Models: functional `Model(inputs, outputs)`, `Sequential`, and subclassed `Model`."""
from deepglass.models.functional import Functional
from deepglass.models.model import Model
from deepglass.models.sequential import Sequential
from deepglass.saving import clone_model, load_model, model_from_json, save_model

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
