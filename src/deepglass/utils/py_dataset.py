"""PyDataset: a dataset of batches you write yourself (Keras's `PyDataset`, formerly `Sequence`)."""


class PyDataset:
    """Base class for data given batch by batch: implement `__len__` (the number of batches) and
    `__getitem__(index)` returning one batch `(x, y)` or `(x, y, sample_weight)` as arrays or tensors;
    `on_epoch_end()` runs after each epoch (shuffle your index there, say).

    Arguments:
        workers: how many batches are prepared at once, in threads, while the model trains (1: one at a time,
            in the training thread).
        use_multiprocessing: accepted for Keras compatibility; batches are prepared in threads either way
            (PyTorch releases the interpreter lock in its kernels, so threads overlap loading with training).
        max_queue_size: how many prepared batches may wait.

    Example:
        >>> class Batches(deepglass.utils.PyDataset):
        ...     def __init__(self, x, y, batch_size=32, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, index):
        ...         part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[part], self.y[part]
        >>> model.fit(Batches(x, y), epochs=3)
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"Received an invalid value for `workers`, expected a positive integer. Received: "
                             f"workers={workers!r}")
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max(1, int(max_queue_size))

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches).")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one batch.")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        """Called after each epoch; override it to reshuffle."""


Sequence = PyDataset
