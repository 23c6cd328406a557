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
from deepglass.utils.dataset_split import split_dataset  # noqa: E402
from deepglass.utils.image_dataset import image_dataset_from_directory  # noqa: E402
from deepglass.utils.image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: E402
from deepglass.utils.text_dataset import text_dataset_from_directory  # noqa: E402
from deepglass.utils.timeseries_dataset import timeseries_dataset_from_array  # noqa: E402

__all__ += ["array_to_img", "image_dataset_from_directory", "img_to_array", "load_img", "save_img", "split_dataset",
            "text_dataset_from_directory", "timeseries_dataset_from_array"]
from deepglass.utils.model_plot import plot_model  # noqa: E402

__all__ += ["plot_model"]
from deepglass.naming import clear_session  # noqa: E402  (Keras has it in keras.utils too)

__all__ += ["clear_session"]
