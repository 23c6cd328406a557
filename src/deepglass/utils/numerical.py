"""Array helpers from Keras's utils: one-hot labels and vector normalisation."""
import numpy as np
import torch


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels: `to_categorical([0, 2], 3)` is `[[1, 0, 0], [0, 0, 1]]`.

    Arguments:
        x: integer labels of any shape (a trailing axis of size 1 is dropped, as in Keras); a NumPy array, list or
            torch tensor.
        num_classes: the number of classes; `max(x) + 1` when omitted.

    Returns a float array of shape `x.shape + (num_classes,)` (a torch tensor for a torch input).
    """
    if torch.is_tensor(x):
        labels = x.long()
        if labels.dim() > 1 and labels.shape[-1] == 1:
            labels = labels.squeeze(-1)
        _check_labels(labels.min().item() if labels.numel() else 0,
                      labels.max().item() if labels.numel() else -1, num_classes)
        return torch.nn.functional.one_hot(labels, num_classes or -1).float()
    array = np.asarray(x)
    if array.dtype.kind not in "iub" and not (array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0)):
        raise ValueError(f"to_categorical expects integer class labels; got values of dtype {array.dtype}.")
    array = array.astype("int64")
    shape = array.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = array.reshape(-1)
    _check_labels(flat.min() if flat.size else 0, flat.max() if flat.size else -1, num_classes)
    num_classes = int(num_classes or (flat.max() + 1 if flat.size else 0))
    categorical = np.zeros((flat.size, num_classes))
    categorical[np.arange(flat.size), flat] = 1
    return categorical.reshape(shape + (num_classes,))


def _check_labels(low, high, num_classes):
    if low < 0:
        raise ValueError(f"to_categorical expects class labels >= 0; got {low}.")
    if num_classes is not None and high >= num_classes:
        raise ValueError(f"to_categorical got label {high}, which does not fit num_classes={num_classes}; labels must "
                         f"be in [0, {num_classes - 1}].")


def normalize(x, axis=-1, order=2):
    """Scale `x` to unit `order`-norm along `axis` (zero vectors stay zero), as Keras's `utils.normalize`."""
    if torch.is_tensor(x):
        return torch.nn.functional.normalize(x, p=order, dim=axis, eps=0.0).nan_to_num(0.0)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
