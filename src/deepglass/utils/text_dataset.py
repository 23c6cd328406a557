"""Datasets of text files in class folders: Keras's `text_dataset_from_directory`, files read batch by batch."""
import functools

from deepglass.utils.image_dataset import FileBatches, from_directory


class TextBatches(FileBatches):
    """Batches of the texts of `.txt` files (lists of str), read when their batch is asked for."""

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def load(self, path):
        with open(path, encoding="utf-8") as file:
            text = file.read()
        return text if self.max_length is None else text[:self.max_length]

    def stack(self, items):
        return items


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """A dataset of the `.txt` files in `directory`, one subfolder per class, batch by batch.

    ```
    directory/
        neg/  1.txt  2.txt ...
        pos/  3.txt ...
    ```
    gives batches `(texts, labels)`: `texts` a list of str (UTF-8), label 0 for `neg` and 1 for `pos`. The file
    listing, shuffling and validation split are the same as `image_dataset_from_directory`'s.

    Arguments:
        directory: the folder of text files.
        labels: `"inferred"` (from the subfolders), `None` (texts only), or a list of integer labels, one per
            file in the sorted order of their paths.
        label_mode: `"int"`, `"categorical"`, `"binary"` (exactly 2 classes) or `None`.
        class_names: with `labels="inferred"`, the subfolders to use and their order (default: all, sorted).
        batch_size: texts per batch; `None` yields single texts.
        max_length: keep at most this many characters of each text.
        shuffle: shuffle the files (with `seed`) and reshuffle them after each epoch; `False` keeps them sorted.
        seed: the seed of the shuffles; required with `validation_split` and `shuffle`.
        validation_split: the fraction of the files (the last ones after shuffling) kept for validation.
        subset: with `validation_split`: `"training"`, `"validation"`, or `"both"` for `[training, validation]`.
        follow_links: also walk into folders that are symbolic links.
        verbose: print how many files and classes were found.

    Returns a `deepglass.utils.PyDataset` with attributes `class_names` and `file_paths` (a list of two for
    `subset="both"`).

    Example:
        >>> train = deepglass.utils.text_dataset_from_directory("aclImdb/train", batch_size=64)
        >>> texts, labels = train[0]
    """
    if max_length is not None and (not isinstance(max_length, int) or max_length < 0):
        raise ValueError(f"Received an invalid value for `max_length`, expected a non-negative integer or None. "
                         f"Received: max_length={max_length!r}")
    return from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                          subset, follow_links, verbose, (".txt",), "text files",
                          functools.partial(TextBatches, max_length))
