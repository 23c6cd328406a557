"""CSVLogger: write each epoch's metrics to a CSV file."""
import collections.abc
import csv
import os

import numpy as np

from deepglass.callbacks.callback import Callback
from deepglass.distribution.process_group import is_chief


def _csv_value(value):
    """Strings as they are, sequences as a quoted `"[a, b]"` (as Keras writes them), numbers as numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write each epoch's results as a row of a CSV file, flushed at every epoch end.

    The columns are `epoch` and the sorted metric names of the first epoch (with `val_` columns added if
    there were none); a missing value is written `NA`.

    Arguments:
        filename: the path of the CSV file, e.g. `"run/log.csv"`.
        separator: the string between fields.
        append: if `True`, append to an existing file (the header is not written again); if `False`,
            overwrite it.

    Example:
    >>> model.fit(x, y, callbacks=[CSVLogger("training.log")])
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if not is_chief():  # several processes train one model: rank 0 alone writes the log
            return
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if not is_chief():
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                # Validation may start later (validation_freq): keep columns for it.
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{key: _csv_value(logs.get(key, "NA")) for key in self.keys}})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
