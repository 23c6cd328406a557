"""TensorBoard: write the training's scalars, weight and gradient histograms and graph for TensorBoard."""
import os
import time
import warnings

import torch

from deepglass.callbacks.callback import Callback
from deepglass.distribution.process_group import is_chief


def _summary_writer():
    """`torch.utils.tensorboard.SummaryWriter`, or an ImportError saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError("The TensorBoard callback needs the tensorboard package: pip install tensorboard") \
            from error
    return SummaryWriter


def _weight_image(weight):
    """A Keras-layout weight as an NHWC image batch, as Keras draws it, or `None` where it has no picture."""
    image = weight.squeeze()
    if image.ndim == 1:  # a bias: one row
        image = image.reshape(1, 1, -1, 1)
    elif image.ndim == 2:  # a dense kernel, drawn wide
        image = image.T if image.shape[0] > image.shape[1] else image
        image = image.reshape(1, *image.shape, 1)
    elif image.ndim == 3:  # a convolution kernel: one picture per output channel
        image = image.permute(2, 0, 1).unsqueeze(-1)
    return image if image.ndim == 4 else None


class _Traced(torch.nn.Module):
    """The model seen by `torch.jit.trace` as one module whose parameters and buffers are the model's.

    Tracing the model itself walks every attribute of every layer, and the symbolic ones (`layer.input`, ...)
    have no value outside a functional graph; here the layers are hidden from the walk, and the weights,
    registered under their `layer/weight` paths, still appear as named inputs of the graph.
    """

    def __init__(self, model):
        super().__init__()
        object.__setattr__(self, "target", model)  # not a submodule: the tracer must not walk it
        for name, parameter in model.named_parameters():
            self.register_parameter(name.replace(".", "/"), parameter)
        for name, buffer in model.named_buffers():
            self.register_buffer(name.replace(".", "/"), buffer)

    def forward(self, *inputs):
        return self.target(*inputs)


class TensorBoard(Callback):
    """Write logs for TensorBoard: metrics per epoch (or every N batches), weight histograms and the graph.

    Epoch scalars go to `log_dir/train` (`epoch_loss`, `epoch_accuracy`, `epoch_learning_rate`, ...) and the
    validation ones to `log_dir/validation` (`epoch_loss`, ... without the `val_` prefix), with the epoch
    (from 0) as the step. Open them with `tensorboard --logdir log_dir`.

    Arguments:
        log_dir: the folder of the event files.
        histogram_freq: every how many epochs to write histograms of the weights (`<layer>/<weight>/histogram`)
            and of their last gradients (`<layer>/<weight>/gradient`); 0 writes none.
        write_graph: write the model's graph (traced by `torch.jit.trace`; a model that cannot be traced is
            skipped with a warning).
        write_images: with histograms, also draw each weight as an image (`<layer>/<weight>/image`).
        write_steps_per_second: also write `epoch_steps_per_second` (training batches per second).
        update_freq: `"epoch"`, `"batch"` (= 1), or an integer N: also write `batch_<metric>` every N training
            batches, with the global batch count as the step.

    Example:
    >>> model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[TensorBoard("logs", histogram_freq=1)])
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch"):
        super().__init__()
        self._writer_class = _summary_writer()  # fail at construction, not in the middle of fit
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and (not isinstance(update_freq, int) or isinstance(update_freq, bool)
                                       or update_freq < 1):
            raise ValueError(f"Received an invalid value for `update_freq`, expected 'epoch', 'batch' or a "
                             f"positive integer. Received: update_freq={update_freq!r}")
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._graph_written = not write_graph
        self._epoch_start = None
        self._epoch_batches = 0
        if update_freq != "epoch" or write_steps_per_second:
            # Only then does this callback need the per-batch hook.
            self.on_train_batch_end = self._on_train_batch_end

    def _writer(self, name):
        """The event writer of `train` or `validation`, created when first written to."""
        if name not in self._writers:
            self._writers[name] = self._writer_class(os.path.join(self.log_dir, name))
        return self._writers[name]

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._graph_written = not self.write_graph

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start, self._epoch_batches = time.perf_counter(), 0

    def _on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        self._epoch_batches += 1
        # Several processes train one model: rank 0 alone writes its logs.
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0 and is_chief():
            writer = self._writer("train")
            for name, value in (logs or {}).items():  # batch logs are read only here
                writer.add_scalar(f"batch_{name}", value, self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        if not is_chief():  # several processes train one model: rank 0 alone writes its logs
            return
        if not self._graph_written:
            self._graph_written = True
            self._write_graph()
        self._write_epoch_scalars(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _write_epoch_scalars(self, epoch, logs):
        train = {name: value for name, value in logs.items() if not name.startswith("val_")}
        validation = {name[4:]: value for name, value in logs.items() if name.startswith("val_")}
        learning_rate = self._learning_rate()
        if learning_rate is not None:
            train["learning_rate"] = learning_rate
        if self.write_steps_per_second and self._epoch_start is not None:
            train["steps_per_second"] = self._epoch_batches / max(time.perf_counter() - self._epoch_start, 1e-9)
        for folder, values in (("train", train), ("validation", validation)):
            for name, value in values.items():
                self._writer(folder).add_scalar(f"epoch_{name}", value, epoch)

    def _learning_rate(self):
        """The optimizer's current learning rate as a float, or `None` without an optimizer."""
        learning_rate = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
        if isinstance(learning_rate, torch.Tensor):
            return float(learning_rate)
        return float(learning_rate) if isinstance(learning_rate, (int, float)) else None

    def _named_weights(self):
        """(tag, layer, torch tensor, index in the layer's weights) for each weight of each layer."""
        for layer in self.model.layers:
            names = {id(tensor): name.replace(".", "/") for name, tensor in
                     [*layer.named_parameters(), *layer.named_buffers()]}
            for index, weight in enumerate(layer.weights):
                yield f"{layer.name}/{names.get(id(weight), index)}", layer, weight, index

    def _write_histograms(self, epoch):
        writer = self._writer("train")
        images = {}
        for tag, layer, weight, index in self._named_weights():
            writer.add_histogram(f"{tag}/histogram", weight.detach(), epoch)
            # The last batch's gradient is still held by the parameter: a histogram of it costs no extra pass.
            if getattr(weight, "grad", None) is not None:
                writer.add_histogram(f"{tag}/gradient", weight.grad.detach(), epoch)
            if self.write_images:
                if layer not in images:
                    images[layer] = layer.get_weights()  # Keras layouts, so the pictures are Keras's
                image = _weight_image(torch.as_tensor(images[layer][index]))
                if image is not None and image.shape[-1] in (1, 3, 4):
                    writer.add_images(f"{tag}/image", image, epoch, dataformats="NHWC")

    def _write_graph(self):
        """Trace the model on zeros shaped like its inputs; models torch cannot trace are skipped with a warning."""
        # Trace in inference mode so that batch statistics and dropout masks are left as they are.
        modes = {module: module.training for module in self.model.modules()}
        try:
            inputs = [torch.zeros([1 if size is None else size for size in tensor.shape],
                                  dtype=tensor.dtype if isinstance(tensor.dtype, torch.dtype)
                                  else getattr(torch, str(tensor.dtype)),
                                  device=next(self.model.parameters()).device)
                      for tensor in self.model.inputs]
            self.model.eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python control flow
                traced = type(type(self.model).__name__, (_Traced,), {})(self.model)  # named as the model
                self._writer("train").add_graph(traced, inputs[0] if len(inputs) == 1 else inputs)
        except Exception as error:  # tracing fails in many model-specific ways; the graph is optional
            warnings.warn(f"TensorBoard could not write the model's graph ({type(error).__name__}: {error}); "
                          "pass write_graph=False to skip it.", stacklevel=3)
        finally:
            for module, training in modes.items():
                module.train(training)
