"""The losses' one-call batch means (the training step's fast path) equal the general path: per-sample losses, then
their mean. Sample weights of ones force the general path, so both are computed from the same inputs."""
import numpy as np
import pytest
import torch

from deepglass import activations, losses

rng = np.random.default_rng(0)
LOGITS = torch.from_numpy(rng.standard_normal((16, 5)).astype("float32"))
ONES = torch.ones(16)


def both_paths(loss, y_true, y_pred):
    fast = loss(y_true, y_pred)
    general = loss(y_true, y_pred, sample_weight=ONES)
    return fast.item(), general.item()


@pytest.mark.parametrize("loss, y_true, y_pred", [
    (losses.MeanSquaredError(), torch.rand(16, 5), torch.rand(16, 5)),
    (losses.SparseCategoricalCrossentropy(from_logits=True), torch.randint(0, 5, (16,)), LOGITS),
    (losses.SparseCategoricalCrossentropy(), torch.randint(0, 5, (16, 1)), activations.softmax(LOGITS)),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     torch.eye(5)[torch.randint(0, 5, (16,))], LOGITS),
    (losses.CategoricalCrossentropy(), torch.eye(5)[torch.randint(0, 5, (16,))], activations.softmax(LOGITS)),
    (losses.BinaryCrossentropy(from_logits=True), torch.randint(0, 2, (16, 5)).float(), LOGITS),
    (losses.BinaryCrossentropy(label_smoothing=0.2), torch.randint(0, 2, (16, 5)).float(),
     activations.sigmoid(LOGITS)),
], ids=["mse", "sparse-logits", "sparse-softmax", "categorical-smoothing", "categorical-softmax", "binary-logits",
        "binary-sigmoid"])
def test_fast_path_equals_general_path(loss, y_true, y_pred):
    fast, general = both_paths(loss, y_true, y_pred)
    np.testing.assert_allclose(fast, general, rtol=1e-6)


def test_softmax_outputs_are_scored_from_their_logits_as_keras_tensorflow_does():
    """A confidently wrong softmax: clipped probabilities would cap the loss at -log(1e-7) = 16.1."""
    logits = torch.tensor([[40.0, 0.0]])
    probabilities = activations.softmax(logits)
    loss = losses.SparseCategoricalCrossentropy()(torch.tensor([1]), probabilities)
    np.testing.assert_allclose(loss.item(), 40.0, rtol=1e-6)  # log-sum-exp exactly
    plain = probabilities.detach().clone()  # the same numbers without their logits: Keras's clipping
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy()(torch.tensor([1]), plain).item(),
                               -np.log(1e-7), rtol=1e-4)


def test_softmax_over_another_axis_keeps_its_probabilities():
    probabilities = activations.softmax(LOGITS, axis=0)
    assert "_keras_logits" not in probabilities.__dict__
