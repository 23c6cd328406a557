"""Utilities: one-hot labels, the model summary table, learning-curve plots, the progress bar, seeding."""
from deepglass.config import set_random_seed
from deepglass.training.progbar import Progbar
from deepglass.utils.numerical import normalize, to_categorical
from deepglass.utils.plotting import plot_history
from deepglass.utils.py_dataset import PyDataset, Sequence
from deepglass.utils.sequence import pad_sequences
from deepglass.utils.summary import print_summary

__all__ = ["Progbar", "PyDataset", "Sequence", "normalize", "plot_history", "print_summary", "set_random_seed",
           "to_categorical"]
__all__ += ["pad_sequences"]
