"""Models: functional `Model(inputs, outputs)`, `Sequential`, and subclassed `Model`."""
from deepglass.models.functional import Functional
from deepglass.models.model import Model
from deepglass.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]
