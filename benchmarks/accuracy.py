"""W7, time to accuracy: wall time from loading Fashion-MNIST until the W2 CNN (Adam, batch 128) reaches a test
accuracy, evaluated on the 10,000 test images after each epoch.

The clock starts before the data is read (the framework is already imported) and includes building the model,
every epoch and every evaluation. A contender that has not reached the target after `max_epochs` epochs, or once
its time is past `budget_s` at an epoch's end, is reported as not reached.
"""
import os
import time

import numpy as np
import torch

from benchmarks import data, devices
from benchmarks.contenders import import_keras, keras_optimizer, tuned_loop
from benchmarks.report import Section
from benchmarks.workloads import W2_DESCRIPTION, Unavailable, Workload, course_cnn, keras_model, torch_inputs

BATCH = 128


def _workload(x, y):
    return Workload("W7", W2_DESCRIPTION, course_cnn(), x, y, BATCH, "sparse_categorical_crossentropy")


def _cut(train, test, limit):
    """The arrays, or their first `limit` = (train, test) samples for a smoke run."""
    if limit is None:
        return train, test
    return tuple(a[:limit[0]] for a in train), tuple(a[:limit[1]] for a in test)


def deepglass_setup(limit):
    import deepglass
    deepglass.config.set_random_seed(0)
    (x, y), (x_test, y_test) = deepglass.datasets.fashion_mnist.load_data()
    prepare = lambda images: images[..., None].astype("float32") / 255  # noqa: E731
    return _keras_api(deepglass, _cut((prepare(x), y), (prepare(x_test), y_test), limit))


def keras_setup(limit):
    keras = import_keras()
    keras.utils.set_random_seed(0)
    return _keras_api(keras, _cut(*data.read_fashion_mnist(), limit))  # keras.datasets would download


def _keras_api(lib, arrays):
    (x, y), (x_test, y_test) = arrays
    workload = _workload(x, y)
    model = keras_model(lib, workload)
    model.compile(optimizer=keras_optimizer(lib, workload), loss=workload.loss, metrics=["accuracy"])
    return (lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
            lambda: model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])


def torch_setup(limit):
    """The tuned PyTorch loop (data and model on the run's device), reading the IDX files with NumPy (no
    torchvision needed)."""
    torch.manual_seed(0)
    (x, y), (x_test, y_test) = _cut(*data.read_fashion_mnist(), limit)
    workload = _workload(x, y)
    model, epoch = tuned_loop(workload)
    images = torch_inputs(workload, torch.from_numpy(x_test).to(devices.current()))
    images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.from_numpy(y_test).to(devices.current())

    @torch.inference_mode()
    def accuracy():
        model.eval()
        correct = sum((model(images[s:s + 1024]).argmax(-1) == labels[s:s + 1024]).sum()
                      for s in range(0, len(images), 1024))
        return float(correct) / len(images)
    return epoch, accuracy


SETUPS = {"deepglass": deepglass_setup, "torch (tuned)": torch_setup, "keras 3": keras_setup}


def _import_first(names):
    """Import the frameworks, and what torch imports on first building an optimizer, before any clock starts:
    otherwise the first contender would pay those one-time costs (`devices.selected` has made the CUDA context)."""
    import deepglass  # noqa: F401
    if "keras 3" in names:
        import_keras()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def race(setup, target, max_epochs, budget_s, limit=None):
    """Train with `setup`'s (train_epoch, test_accuracy) until the target; the times and accuracies per epoch."""
    start = time.perf_counter()
    train_epoch, test_accuracy = setup(limit)
    devices.synchronize()  # the data copied to the GPU counts in the setup
    setup_seconds = time.perf_counter() - start
    history = []
    for epoch in range(1, max_epochs + 1):
        train_epoch()
        accuracy = float(test_accuracy())
        history.append({"epoch": epoch, "seconds": time.perf_counter() - start, "accuracy": accuracy})
        if accuracy >= target or history[-1]["seconds"] > budget_s:
            break
    reached = history[-1]["accuracy"] >= target
    return {"reached": reached, "seconds": history[-1]["seconds"] if reached else None,
            "setup_seconds": setup_seconds, "history": history}


def run(names, target=0.90, max_epochs=10, budget_s=300.0, limit=None):
    """The W7 section for the contenders in `names` that have a setup here."""
    title = (f"W7: time to {target:.0%} Fashion-MNIST test accuracy, {W2_DESCRIPTION}, batch {BATCH}, Adam "
             f"(at most {max_epochs} epochs or {budget_s:.0f} s each)")
    columns = ["contender", "time to target (s)", "epochs", "test accuracy per epoch", "data and model (s)",
               "s per epoch"]
    if not os.path.isdir(data.FASHION):
        return Section("W7", title, columns, [], {}, [f"skipped: Fashion-MNIST not found at {data.FASHION} "
                                                      "(Debian package dataset-fashion-mnist)"])
    chosen = [n for n in SETUPS if n in names]
    notes = []
    try:
        _import_first(chosen)
    except Unavailable as reason:
        chosen.remove("keras 3")
        notes.append(f"keras 3: skipped, {reason}")
    results, rows = {}, []
    for name in chosen:
        result = results[name] = race(SETUPS[name], target, max_epochs, budget_s, limit)
        history = result["history"]
        accuracies = ", ".join(f"{h['accuracy']:.3f}" for h in history)
        per_epoch = np.diff([result["setup_seconds"]] + [h["seconds"] for h in history])
        rows.append([name, f"{result['seconds']:.1f}" if result["reached"] else "not reached",
                     str(len(history)), accuracies, f"{result['setup_seconds']:.1f}", f"{np.median(per_epoch):.1f}"])
    notes = ["data: Fashion-MNIST, 60,000 training and 10,000 test images" if limit is None else
             f"data: the first {limit[0]} training and {limit[1]} test images of Fashion-MNIST (a smoke run)",
             "the time to target includes reading the data, building the model and evaluating after each epoch; "
             "seconds per epoch: the median, evaluation included"] + notes
    return Section("W7", title, columns, rows, {"target": target, "max_epochs": max_epochs, "budget_s": budget_s,
                                                "device": devices.record(), "contenders": results}, notes)
