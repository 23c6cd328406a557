"""Learning-curve plots from a History."""
import pytest

from deepglass.callbacks import History
from deepglass.utils import plot_history

matplotlib = pytest.importorskip("matplotlib")


def test_one_panel_per_metric_with_training_and_validation_lines(tmp_path):
    history = History()
    history.epoch = [0, 1, 2]
    history.history = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]}
    path = tmp_path / "curves.png"
    figure = plot_history(history, str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["accuracy", "loss"]
    loss_axis = figure.axes[1]
    lines = {line.get_label(): list(line.get_ydata()) for line in loss_axis.get_lines()}
    assert lines == {"training": [1.0, 0.6, 0.4], "validation": [1.1, 0.8, 0.7]}
    assert list(loss_axis.get_lines()[0].get_xdata()) == [1, 2, 3]


def test_a_plain_dict_works_and_an_empty_history_is_refused():
    figure = plot_history({"loss": [3.0, 2.0]})
    assert [axis.get_title() for axis in figure.axes] == ["loss"]
    with pytest.raises(ValueError, match="no metrics"):
        plot_history({})


def best_marker(axis):
    """The (epoch, value) of the best-epoch star, and its note."""
    (marker,) = axis.collections
    (note,) = [text for text in axis.texts]
    return tuple(marker.get_offsets()[0]), note.get_text()


def test_the_best_epoch_is_marked_on_the_validation_curve():
    logs = {"loss": [1.0, 0.6, 0.4, 0.3, 0.2], "accuracy": [0.5, 0.7, 0.8, 0.85, 0.9],
            "val_loss": [1.1, 0.7, 0.65, 0.8, 0.9], "val_accuracy": [0.4, 0.6, 0.75, 0.7, 0.72]}
    figure = plot_history(logs)
    loss_axis, accuracy_axis = figure.axes
    assert best_marker(loss_axis) == ((3, 0.65), "best: epoch 3\n0.65")  # the lowest val_loss, epochs from 1
    assert best_marker(accuracy_axis) == ((3, 0.75), "best: epoch 3\n0.75")  # the highest val_accuracy
    assert loss_axis.collections[0].get_label() == "best epoch 3 (val_loss 0.65)"
    assert loss_axis.get_xlabel() == "epoch" and loss_axis.get_ylabel() == "loss"
    assert [text.get_text() for text in loss_axis.get_legend().get_texts()] == [
        "training", "validation", "best epoch 3 (val_loss 0.65)"]


def test_without_validation_the_training_curve_is_marked_and_rates_get_a_log_panel():
    logs = {"loss": [0.9, 0.5, float("nan"), 0.6], "mean_absolute_error": [2.0, 1.0, 1.5, 1.2],
            "auc": [0.6, 0.9, 0.9, 0.8], "learning_rate": [1e-2, 1e-2, 1e-3, 1e-3],
            "val_precision": [0.2, 0.5, 0.4, 0.3]}
    figure = plot_history(logs, title="run 7")
    assert [axis.get_title() for axis in figure.axes] == ["loss", "mean_absolute_error", "auc", "learning_rate",
                                                          "precision"]
    loss, error, auc, rate, precision = figure.axes
    assert best_marker(loss)[0] == (2, 0.5)  # NaN is not a best value
    assert best_marker(error)[0] == (2, 1.0)
    assert best_marker(auc)[0] == (2, 0.9)  # the first of equal values
    assert best_marker(precision)[0] == (2, 0.5)  # a metric with validation values only
    assert rate.get_yscale() == "log" and not rate.collections
    assert figure.texts[0].get_text() == "run 7"
    assert len({axis.get_position().y0 for axis in figure.axes}) == 2  # three panels per row
