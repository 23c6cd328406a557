"""Insight: see inside training — what the learning curves say, and what happens in each layer.

- `diagnose(history)` (also `history.diagnose()`): findings such as overfitting, underfitting or a learning
  rate too high, each with the epochs concerned, the evidence in numbers and advice.
- `Monitor(every_n_steps=50)`: a callback recording per-layer gradient, weight, update and activation
  statistics; `monitor.findings()` names vanishing or exploding gradients, dead layers and bad initialisation.
- `plot_gradient_flow(monitor)`, `plot_activation_stats(monitor)`: pictures of a Monitor's records.
- `feature_maps`, `plot_feature_maps`, `plot_filters`, `grad_cam`, `saliency`, `overlay`: what a trained model
  looks at.
- `mc_dropout_predict`, `expected_calibration_error`, `plot_reliability`: how sure it is, and whether it should be.
- `confusion_matrix`, `plot_confusion_matrix`, `top_losses`, `plot_top_losses`: which classes and which samples
  it gets wrong.
- `lr_find`: the learning-rate range test, with a suggested learning rate.
- `explain_model(model)`: per layer, the arithmetic behind its output size, parameters, receptive field, FLOPs and
  activation memory (what `model.summary(explain=True)` prints).
- `report(model, history, x_val, y_val, path="report.html")`: all of it in one self-contained HTML page;
  `save_history` / `load_history` keep a History as JSON for `deepglass report`.
- `FitSummary`: the one-line `Insight: ...` summary that `fit(..., verbose=1)` prints at its end (turn it off
  with `deepglass.config.set_insight(False)`).

Importing this package registers that summary with the fit loop; matplotlib is imported only when plotting.
"""
from deepglass.insight.diagnosis import CURVE_FINDINGS, Thresholds, diagnose
from deepglass.insight.explain import LayerExplanation, explain_layers, explain_model, explain_totals
from deepglass.insight.confusion import confusion_matrix, normalize_confusion_matrix, plot_confusion_matrix
from deepglass.insight.findings import Finding
from deepglass.insight.inspect import (feature_maps, filter_weights, grad_cam, overlay, plot_feature_maps,
                                      plot_filters, saliency)
from deepglass.insight.lr_finder import LRFinderResult, lr_find
from deepglass.insight.monitor import MONITOR_FINDINGS, STATISTICS, Monitor, MonitorThresholds
from deepglass.insight.report import load_history, report, save_history
from deepglass.insight.plots import plot_activation_stats, plot_gradient_flow
from deepglass.insight.summary import FitSummary, fit_summary_factory
from deepglass.insight.top_losses import plot_top_losses, top_losses
from deepglass.insight.uncertainty import (calibration_bins, expected_calibration_error, mc_dropout_predict,
                                          plot_reliability, predictive_entropy)
from deepglass.training import default_callbacks

default_callbacks.register(fit_summary_factory)

__all__ = ["CURVE_FINDINGS", "FitSummary", "Finding", "MONITOR_FINDINGS", "Monitor", "MonitorThresholds",
           "STATISTICS", "Thresholds", "diagnose", "plot_activation_stats", "plot_gradient_flow"]
__all__ += ["calibration_bins", "expected_calibration_error", "feature_maps", "filter_weights", "grad_cam",
            "mc_dropout_predict", "overlay", "plot_feature_maps", "plot_filters", "plot_reliability",
            "predictive_entropy", "saliency"]
__all__ += ["LayerExplanation", "explain_layers", "explain_model", "explain_totals"]
__all__ += ["load_history", "report", "save_history"]
__all__ += ["LRFinderResult", "confusion_matrix", "lr_find", "normalize_confusion_matrix", "plot_confusion_matrix",
            "plot_top_losses", "top_losses"]
