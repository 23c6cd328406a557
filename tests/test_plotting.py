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
