"""`keras.optimizers.schedules`: the learning-rate schedules of `deepglass.schedules`, under Keras's path."""
from deepglass.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                                 LearningRateSchedule, OneCycle, PiecewiseConstantDecay, PolynomialDecay, deserialize,
                                 serialize)

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "OneCycle", "serialize", "deserialize"]
