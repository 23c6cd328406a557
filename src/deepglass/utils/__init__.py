"""Utilities: the model summary table, learning-curve plots and the progress bar."""
from deepglass.training.progbar import Progbar
from deepglass.utils.plotting import plot_history
from deepglass.utils.summary import print_summary

__all__ = ["Progbar", "plot_history", "print_summary"]
