"""The training report: one self-contained HTML page with the explained model summary, the learning curves, the
findings and advice, the gradient flow, and, given validation data, the metrics, the confusion matrix, the worst
samples, the calibration and Grad-CAM maps."""
import base64
import datetime
import io
import json
import math
import os

import numpy as np

from deepglass.insight import report_html as h
from deepglass.insight.diagnosis import diagnose
from deepglass.insight.explain import explain_model, explain_totals, format_count, format_receptive_field
from deepglass.saving.atomic import atomic_open, atomic_path

_PLOT = "pip install 'deepglass[plot]'"
_SEVERITY = {"learning_rate_too_high": "problem", "exploding_gradients": "problem", "vanishing_gradients": "problem",
             "dead_layers": "problem", "overfitting": "warning", "underfitting": "warning",
             "bad_initialisation": "warning", "unrepresentative_training_set": "warning",
             "unrepresentative_validation_set": "warning", "learning_rate_too_low": "note", "plateau": "note",
             "batch_size_learning_rate_mismatch": "note", "good_fit": "good"}
_LABEL = {"problem": "Problem", "warning": "Warning", "note": "Note", "good": "Good"}
_GRAD_CAM_SAMPLES = 6
_TOP_LOSSES = 9


def report(model, history=None, x_val=None, y_val=None, path="report.html", class_names=None, title=None,
           monitor=None):
    """Write a training report: one self-contained HTML file (inline CSS, pictures embedded as PNG, no scripts,
    nothing fetched from the network) that opens in any browser and can be mailed or archived as it is.

    Sections, each left out when its inputs are missing:
    - overview: parameters, FLOPs and activation memory per sample, epochs, final losses, accuracy;
    - findings and advice: `diagnose(history)` (needs `history`);
    - learning curves: `deepglass.utils.plot_history` and the last and best value of each metric;
    - model: the layers with their receptive fields, FLOPs and memory, and the explained summary
      (`model.summary(explain=True)`);
    - gradient flow: `plot_gradient_flow`, `plot_activation_stats` and the findings of a `Monitor` that watched
      training (pass it as `monitor`);
    - evaluation on `(x_val, y_val)`: the compiled metrics; for classifiers the confusion matrix with recall and
      precision per class, the samples with the highest loss, the calibration (expected calibration error and
      reliability diagram) and, for image models, Grad-CAM maps.
    Without matplotlib the numbers and tables are still written, and the page names the pictures that need
    `pip install 'deepglass[plot]'`. The file is written atomically: a reader never sees half a report.

    Arguments:
        model: the trained deepglass model.
        history: the `History` that `fit` returned, or its `history` dict (e.g. from `load_history`).
        x_val, y_val: validation inputs and targets (class indices or one-hot for classifiers).
        path: the file to write.
        class_names: names of the classes, in class-index order.
        title: the page's title (default: `"<model name>: training report"`).
        monitor: a `deepglass.insight.Monitor` passed to `fit(callbacks=[...])`, for the gradient-flow section.

    Returns:
        The path written.

    Example:
    >>> history = model.fit(x, y, validation_split=0.1, epochs=20, callbacks=[monitor])
    >>> deepglass.insight.report(model, history, x_test, y_test, path="report.html", monitor=monitor)
    'report.html'
    """
    import deepglass
    logs = _logs(history)
    build = _Page()
    evaluation = _Evaluation(model, x_val, y_val) if x_val is not None else None
    rows = explain_model(model)
    totals = explain_totals(rows)
    build.add("overview", "Overview", _overview(model, logs, totals, evaluation))
    if logs:
        build.add("findings", "Findings and advice", _findings(history if hasattr(history, "history") else logs,
                                                               model))
        build.add("curves", "Learning curves", _curves(build, logs))
    build.add("model", "Model", _model(model, rows, totals))
    if monitor is not None:
        build.add("gradients", "Gradient flow", _gradients(build, monitor))
    if evaluation is not None:
        evaluation.sections(build, class_names)
    name = getattr(model, "name", type(model).__name__)
    notices = []
    if build.missing:
        notices.append(f"These pictures need matplotlib, which is not installed: {', '.join(build.missing)}. "
                       f"Install it with <code>{h.esc(_PLOT)}</code> and write the report again.")
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    document = h.page(title or f"{name}: training report", f'Model "{name}" · written {when}', build.sections,
                      notices, footer=f"deepglass {deepglass.__version__}")
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(document)
        os.chmod(temporary, _readable_mode())  # a page to share: readable as any new file, not private
    return os.fspath(path)


def save_history(history, path):
    """Write a History's `history` dict (or the dict itself) to a JSON file, atomically, for `load_history`
    and `deepglass report --history`. Non-finite values are written as JSON's NaN / Infinity extensions.

    Example:
    >>> deepglass.insight.save_history(model.fit(x, y, epochs=10), "history.json")
    """
    logs = _logs(history)
    data = {str(name): [float(value) for value in values] for name, values in logs.items()}
    with atomic_open(path) as file:
        file.write(json.dumps(data, indent=1).encode("utf-8"))


def load_history(path):
    """The `history` dict that `save_history` wrote (metric name -> list of per-epoch values).

    Example:
    >>> deepglass.insight.diagnose(deepglass.insight.load_history("history.json"))
    """
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    if not isinstance(data, dict) or not all(isinstance(values, list) and all(
            isinstance(v, (int, float)) for v in values) for values in data.values()):
        raise ValueError(f"{path} does not hold a training history: expected a JSON object mapping metric names to "
                         "lists of numbers, as save_history(history, path) writes (json.dump(history.history)).")
    return data


# ------------------------------------------------------------------------------------------------ the page
class _Page:
    """The sections written so far, and the pictures left out for want of matplotlib."""

    def __init__(self):
        self.sections, self.missing = [], []

    def add(self, anchor, heading, body):
        self.sections.append((anchor, heading, body))

    def picture(self, name, draw, alt, caption=""):
        """The figure `draw()` returns, embedded as PNG; a note instead when matplotlib is missing."""
        try:
            figure = draw()
        except ImportError as error:
            if "matplotlib" not in str(error):
                raise
            self.missing.append(name)
            return h.paragraph(f"The {name} picture needs matplotlib ({_PLOT}).", "skip")
        return h.figure(_png(figure), alt, caption)


def _readable_mode():
    """The mode `open()` gives a new file (0o666 less the umask); the temporary file starts private."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _png(figure):
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _logs(history):
    logs = getattr(history, "history", history) if history is not None else {}
    if not isinstance(logs, dict):
        raise TypeError(f"Expected a History or its history dict; received {type(history).__name__}.")
    return {name: list(values) for name, values in logs.items() if values}


def _number(value):
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


# -------------------------------------------------------------------------------------------------- sections
def _overview(model, logs, totals, evaluation):
    items = [("parameters", f"{model.count_params():,}"),
             ("FLOPs per sample", format_count(totals["flops"])),
             ("activations per sample", _bytes(totals["activation_bytes"]))]
    if totals["receptive_field"] is not None:
        items.append(("receptive field", format_receptive_field(totals["receptive_field"])))
    if logs:
        items.append(("epochs", str(len(logs.get("loss", next(iter(logs.values())))))))
        for name in ("loss", "val_loss"):
            if name in logs:
                items.append((f"final {name}", _number(logs[name][-1])))
    if evaluation is not None and evaluation.classes is not None:
        items.append(("validation accuracy", f"{evaluation.accuracy:.1%}"))
        items.append(("calibration error (ECE)", f"{evaluation.ece:.3f}"))
    return h.stats(items)


def _findings(history, model):
    findings = diagnose(history, model=model)
    if not findings:
        return h.paragraph("The learning curves are too short to judge (or hold no validation loss).", "muted")
    return "".join(_card(finding) for finding in findings)


def _card(finding):
    severity = _SEVERITY.get(finding.name, "warning")
    facts = []
    if finding.epochs:
        epochs = finding.epochs
        facts.append(("epochs", ", ".join(map(str, epochs[:12])) + (", ..." if len(epochs) > 12 else "")))
    if finding.layers:
        facts.append(("layers", ", ".join(finding.layers)))
    facts += [(key, _number(value)) for key, value in finding.evidence.items()]
    summary = finding.summary[:1].upper() + finding.summary[1:]
    return h.card(severity, _LABEL[severity], summary, [f"Advice: {finding.advice}."], facts)


def _curves(build, logs):
    from deepglass.utils.plotting import plot_history
    picture = build.picture("learning curves", lambda: plot_history(logs), "Training and validation curves per epoch")
    rows = []
    for name in [n for n in logs if not n.startswith("val_")]:
        values, validation = logs[name], logs.get(f"val_{name}")
        best_of = validation or values
        finite = [i for i, value in enumerate(best_of) if math.isfinite(value)]
        pick = min if ("loss" in name or "error" in name) else max  # lower is better for losses and errors
        best = pick(finite, key=best_of.__getitem__) if finite else None
        rows.append([name, _number(values[-1]), _number(validation[-1]) if validation else "-",
                     "-" if best is None else f"{_number(best_of[best])} (epoch {best + 1})"])
    header = ["metric", "last (training)", "last (validation)", "best (validation, else training)"]
    return picture + h.table(header, rows, numeric={1, 2, 3})


def _model(model, rows, totals):
    from deepglass.utils.summary import explained_lines
    table = []
    for row in rows:
        shape = row.output_shape if isinstance(row.output_shape, tuple) else row.output_shape or "?"
        table.append(["\u2003" * row.level + f"{row.name} ({row.class_name})", str(shape).replace("'", ""),
                      f"{row.params:,}", format_receptive_field(row.receptive_field),
                      "?" if row.flops is None else f"{row.flops:,}",
                      "?" if row.activation_bytes is None else _bytes(row.activation_bytes)])
    header = ["layer (type)", "output shape", "parameters", "receptive field", "FLOPs", "activations"]
    text = (f"{totals['params']:,} parameters; {totals['flops']:,} FLOPs per sample (a multiply-add counts 2; "
            f"biases, activations, normalisation and pooling count 0); {_bytes(totals['activation_bytes'])} of layer "
            "outputs per sample. Receptive fields are in input positions.")
    if totals["unknown_flops"]:
        text += f" The cost of {', '.join(totals['unknown_flops'])} is not known and not counted."
    explained = "\n".join(explained_lines(model, model.layers)[1:])  # without the leading blank line
    return (h.table(header, table, numeric={2, 4, 5}) + h.paragraph(text, "muted")
            + h.details("How each number arises (as model.summary(explain=True) prints it)", h.pre(explained)))


def _gradients(build, monitor):
    from deepglass.insight.plots import plot_activation_stats, plot_gradient_flow
    history = monitor.history
    if not history["steps"]:
        return h.paragraph("The monitor recorded no training steps.", "skip")
    body = build.picture("gradient flow", lambda: plot_gradient_flow(monitor),
                         "Gradient norm and update-to-weight ratio per layer")
    body += build.picture("activation statistics", lambda: plot_activation_stats(monitor),
                          "Output statistics per layer at the first and last sampled step")
    findings = monitor.findings()
    body += "".join(_card(finding) for finding in findings) or h.card(
        "good", "Good", "No gradient or activation problems found", [])
    rows = []
    for name, entry in history["layers"].items():
        grads, ratios = entry["grad_norm"], entry["update_ratio"]
        rows.append([name, entry["kind"], f"{entry['parameters']:,}", _number(grads[-1] if grads else None),
                     _number(ratios[-1] if ratios else None)])
    header = ["layer", "kind", "parameters", "gradient norm (last sample)", "update / weight (last sample)"]
    return body + h.table(header, rows, numeric={2, 3, 4})


# ------------------------------------------------------------------------------------------------ evaluation
class _Evaluation:
    """Predictions on the validation data, and what they say when the model is a classifier."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y = model, x, y
        outputs = model.predict(x, verbose=0)
        self.outputs = None if isinstance(outputs, (list, tuple, dict)) else np.asarray(outputs, dtype=np.float64)
        self.classes = self.labels = self.probabilities = None
        self.converted = False
        if y is not None and self.outputs is not None:
            self._classify(np.asarray(y))

    def _classify(self, y):
        """Set labels and class probabilities when the outputs are per-class scores and `y` holds classes."""
        out = self.outputs.reshape(len(self.outputs), -1) if self.outputs.ndim <= 2 else None
        if out is None or y.shape[0] != out.shape[0]:
            return
        labels = y.argmax(axis=-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(len(y), -1)
        if labels.ndim > 1 and labels.shape[1] != 1:
            return
        labels = labels.reshape(-1)
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)) or labels.min() < 0:
            return
        if out.shape[1] == 1:
            if labels.max() > 1:
                return
            p = out[:, 0]
            if p.min() < 0 or p.max() > 1:
                p, self.converted = 1 / (1 + np.exp(-p)), True
            out = np.stack([1 - p, p], axis=1)
        elif labels.max() >= out.shape[1]:
            return
        elif out.min() < 0 or out.max() > 1 or not np.allclose(out.sum(axis=1), 1, atol=1e-3):
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            out, self.converted = shifted / shifted.sum(axis=1, keepdims=True), True
        from deepglass.insight.uncertainty import expected_calibration_error
        self.labels, self.probabilities, self.classes = labels.astype(np.int64), out, out.shape[1]
        self.accuracy = float(np.mean(out.argmax(axis=1) == self.labels))
        self.ece = expected_calibration_error(self.labels, out)

    def sections(self, build, class_names):
        names = [str(n) for n in class_names] if class_names is not None else None
        if names is not None and self.classes is not None and len(names) != self.classes:
            raise ValueError(f"report received {len(names)} class_names for a model with {self.classes} classes; "
                             "pass one name per class, in class-index order.")
        build.add("evaluation", "Evaluation on the validation data", self._metrics())
        if self.classes is None:
            return
        names = names or [str(i) for i in range(self.classes)]
        build.add("confusion", "Confusion matrix", self._confusion(build, names))
        build.add("top-losses", "Highest losses", self._top_losses(build, names))
        build.add("calibration", "Calibration", self._calibration(build))
        if self._is_image_model():
            build.add("grad-cam", "Grad-CAM", self._grad_cam(build, names))

    def _metrics(self):
        parts = []
        if self.y is None:
            parts.append(h.paragraph("No targets were given (y_val): metrics need them.", "skip"))
        elif getattr(self.model, "compiled", False):
            logs = self.model.evaluate(self.x, self.y, verbose=0, return_dict=True)
            rows = [[name, _number(float(value))] for name, value in logs.items()]
            parts.append(h.table(["metric", "value"], rows, numeric={1}))
        else:
            parts.append(h.paragraph("The model is not compiled: no loss or compiled metrics.", "skip"))
        samples = len(self.outputs) if self.outputs is not None else len(self.x)
        text = f"{samples:,} samples."
        if self.classes is not None:
            text += f" Accuracy {self.accuracy:.2%} over {self.classes} classes."
            if self.converted:
                text += " The outputs are scores, not probabilities: softmax (sigmoid for one output) was applied."
        elif self.outputs is None:
            text += " The model has several outputs: the per-class sections cover single-output classifiers."
        elif self.y is not None:
            text += (" The outputs do not look like class scores for these targets: the classifier sections are "
                     "left out.")
        return "".join(parts) + h.paragraph(text, "muted")

    def _confusion(self, build, names):
        try:
            from deepglass.insight.confusion import confusion_matrix, plot_confusion_matrix
        except ImportError:
            return h.paragraph("The confusion matrix needs deepglass.insight.confusion, which this installation "
                               "lacks.", "skip")
        counts = confusion_matrix(self.labels, self.probabilities, num_classes=self.classes)
        body = build.picture("confusion matrix", lambda: plot_confusion_matrix(counts, class_names=names),
                             "Confusion matrix: true classes in rows, predicted classes in columns")
        if "confusion matrix" in build.missing:  # without the picture, the counts as a table
            body += h.table(["true \\ predicted", *names], [[n, *map(str, r)] for n, r in zip(names, counts)],
                            numeric=set(range(1, self.classes + 1)))
        support, predicted, correct = counts.sum(axis=1), counts.sum(axis=0), np.diag(counts)
        rows = [[name, f"{support[i]:,}", f"{correct[i]:,}", _share(correct[i], support[i]),
                 _share(correct[i], predicted[i])] for i, name in enumerate(names)]
        return body + h.table(["class", "samples", "correct", "recall", "precision"], rows, numeric={1, 2, 3, 4})

    def _top_losses(self, build, names):
        if not getattr(self.model, "compiled", False):
            return h.paragraph("The model is not compiled, so it has no loss to rank the samples by.", "skip")
        try:
            from deepglass.insight.top_losses import plot_top_losses, top_losses
        except ImportError:
            return h.paragraph("The highest losses need deepglass.insight.top_losses, which this installation "
                               "lacks.", "skip")
        k = min(_TOP_LOSSES, len(self.labels))
        body = build.picture("highest losses", lambda: plot_top_losses(self.model, self.x, self.y, k=k,
                                                                       class_names=names),
                             f"The {k} validation samples with the highest loss, worst first")
        if "highest losses" not in build.missing:
            return body
        indices, losses, _ = top_losses(self.model, self.x, self.y, k=k)  # without the picture, a table
        rows = [[str(i), _number(float(loss)), names[self.labels[i]], names[int(self.probabilities[i].argmax())],
                 f"{self.probabilities[i].max():.3f}"] for i, loss in zip(indices, losses)]
        header = ["sample", "loss", "true class", "predicted class", "probability of the prediction"]
        return body + h.table(header, rows, numeric={0, 1, 4})

    def _calibration(self, build):
        from deepglass.insight.uncertainty import plot_reliability
        text = (f"Expected calibration error: {self.ece:.4f} (0 is perfect: the confidence of the predictions "
                "matches how often they are right). Bars below the diagonal mean over-confidence.")
        return h.paragraph(text) + build.picture(
            "reliability diagram", lambda: plot_reliability(self.labels, self.probabilities),
            "Reliability diagram: accuracy against confidence per bin")

    def _is_image_model(self):
        from deepglass.layers.conv_transpose import BaseConvTranspose
        from deepglass.layers.convolutional import BaseConv
        convs = [m for m in self.model.modules() if isinstance(m, BaseConv) and not isinstance(m, BaseConvTranspose)]
        x = np.asarray(self.x) if not isinstance(self.x, (list, tuple, dict)) else None
        return x is not None and x.ndim == 4 and any(m.rank == 2 for m in convs)

    def _grad_cam(self, build, names):
        from deepglass.insight.inspect import grad_cam
        count = min(_GRAD_CAM_SAMPLES, len(self.labels))
        x = np.asarray(self.x[:count])
        heat = grad_cam(self.model, x)
        predicted = self.probabilities[:count].argmax(axis=1)
        titles = [f"true {names[t]}, predicted {names[p]}" for t, p in zip(self.labels[:count], predicted)]
        return h.paragraph("Where the last convolution layer found the evidence for the predicted class: bright "
                           "regions raised its score (Grad-CAM, Selvaraju et al., 2017).") + build.picture(
            "Grad-CAM", lambda: _grad_cam_figure(x, heat, titles),
            "Validation images (top) and their Grad-CAM maps for the predicted class (bottom)")


def _grad_cam_figure(images, heat, titles):
    from deepglass.insight.inspect import overlay
    from deepglass.insight.plots import _pyplot
    plt = _pyplot("the report's Grad-CAM picture")
    count = len(images)
    figure, axes = plt.subplots(2, count, figsize=(2.0 * count, 4.4), squeeze=False)
    for column, (image, title) in enumerate(zip(images, titles)):
        picture = image[..., 0] if image.shape[-1] == 1 else image
        low, high = float(picture.min()), float(picture.max())
        axes[0, column].imshow((picture - low) / (high - low) if high > low else picture * 0, cmap="gray")
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(overlay(image, heat[column]))
        for axis in axes[:, column]:
            axis.axis("off")
    figure.tight_layout()
    return figure


def _share(part, whole):
    return f"{part / whole:.1%}" if whole else "-"


def _bytes(size):
    from deepglass.utils.summary import readable_memory_size
    return readable_memory_size(size)
