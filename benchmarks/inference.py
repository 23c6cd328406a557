"""Inference contenders: each prepares a workload's (untrained) model and returns `(predict, evaluate)`, two
functions that make one pass over its data: predict returns the class probabilities as a NumPy array, evaluate the
loss and accuracy."""
import torch
import torch.nn.functional as F

from benchmarks import devices
from benchmarks.contenders import import_keras, keras_optimizer
from benchmarks.workloads import keras_model, torch_inputs, torch_model


def _keras_api(lib, workload):
    model = keras_model(lib, workload)
    model.compile(optimizer=keras_optimizer(lib, workload), loss=workload.loss, metrics=["accuracy"])
    size = workload.batch_size
    return (lambda: model.predict(workload.x, batch_size=size, verbose=0),
            lambda: model.evaluate(workload.x, workload.y, batch_size=size, verbose=0))


def deepglass_inference(workload):
    import deepglass
    return _keras_api(deepglass, workload)


def keras_inference(workload):
    return _keras_api(import_keras(), workload)


def torch_inference(workload):
    """The loop PyTorch code writes for inference: eval mode, `torch.inference_mode()`, channels-last, slices of the
    data as batches, one host synchronisation per pass. Like `predict(x)` and `evaluate(x, y)`, each pass starts from
    the workload's NumPy arrays and moves them to the device itself (on a GPU that copy is part of the work)."""
    device = devices.current()
    model = torch_model(workload).eval().to(device)
    channels_last = workload.x.ndim == 4
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    size = workload.batch_size

    def inputs():
        x = torch_inputs(workload, torch.from_numpy(workload.x).to(device))
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    @torch.inference_mode()
    def predict():
        x = inputs()
        return torch.cat([model(x[start:start + size]).softmax(-1) for start in range(0, len(x), size)]).cpu().numpy()

    @torch.inference_mode()
    def evaluate():
        x, y = inputs(), torch.from_numpy(workload.y).to(device)
        loss, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.int64, device=device)
        for start in range(0, len(x), size):
            logits, labels = model(x[start:start + size]), y[start:start + size]
            loss += F.cross_entropy(logits, labels, reduction="sum")
            correct += (logits.argmax(-1) == labels).sum()
        return float(loss) / len(x), float(correct) / len(x)
    return predict, evaluate


CONTENDERS = {"deepglass": deepglass_inference, "torch (inference_mode)": torch_inference,
              "keras 3": keras_inference}
BASELINE = "torch (inference_mode)"
