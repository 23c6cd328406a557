"""BatchNormalization, LayerNormalization, GroupNormalization and UnitNormalization: outputs and moving statistics
against Keras (the oracle) with the same weights and batches, NumPy formulas where Keras has no counterpart, frozen
batch normalisation under fit, parameter counts and summaries of models, bad input."""
import os
import warnings

import numpy as np
import pytest
import torch

import deepglass
from deepglass.layers import (BatchNormalization, Dense, GroupNormalization, Input, LayerNormalization,
                              UnitNormalization)
from deepglass.layers import normalization
from deepglass.layers.layer import checked_calls
from deepglass.utils.summary import summary_string
from tests.layer_conformance import run_layer_test

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

RANDOM_AFFINE = {"gamma_initializer": "random_normal", "beta_initializer": "random_normal"}
RANDOM_BN = {**RANDOM_AFFINE, "moving_mean_initializer": "random_normal"}


def batch(shape, seed=0, loc=1.0, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + loc).astype("float32")


def numpy_of(tensor):
    return keras.ops.convert_to_numpy(tensor) if not torch.is_tensor(tensor) else tensor.detach().cpu().numpy()


def keras_twin(ours, shape, **kwargs):
    """The Keras layer of the same class and arguments, built for `shape`, holding `ours`'s weights."""
    theirs = getattr(keras.layers, type(ours).__name__)(**kwargs)
    theirs.build(shape)
    theirs.set_weights(ours.get_weights())
    return theirs


def set_random_weights(layer, seed=1):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()]
    if isinstance(layer, BatchNormalization):  # a variance must be positive
        weights[-1] = np.abs(weights[-1]) + 0.5
    layer.set_weights(weights)


def bn_numpy(x, axes, gamma, beta, mean=None, variance=None, epsilon=1e-3):
    """The batch-normalisation formula; without `mean` / `variance` the batch's (biased) statistics."""
    reduce = tuple(i for i in range(x.ndim) if i not in axes)
    if mean is None:
        mean, variance = x.mean(reduce, keepdims=True), x.var(reduce, keepdims=True)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    return (x - mean.reshape(shape)) / np.sqrt(variance.reshape(shape) + epsilon) * gamma.reshape(shape) + \
        beta.reshape(shape)


# ------------------------------------------------------------------------------------------ shared conformance test
CONFORMANCE = [
    (BatchNormalization, {}, (4, 3)),
    (BatchNormalization, RANDOM_BN, (3, 5, 4)),
    (BatchNormalization, {**RANDOM_BN, "axis": 1}, (2, 4, 5, 6, 3)),
    (BatchNormalization, {**RANDOM_BN, "axis": 1}, (2, 3, 5, 4)),
    (BatchNormalization, {**RANDOM_BN, "axis": -2, "center": False}, (2, 5, 4, 3)),
    (BatchNormalization, {"scale": False, "momentum": 0.9, "epsilon": 1e-5}, (2, 4, 4, 3)),
    (LayerNormalization, {}, (3, 6)),
    (LayerNormalization, RANDOM_AFFINE, (2, 5, 4)),
    (LayerNormalization, {**RANDOM_AFFINE, "axis": [-2, -1]}, (2, 3, 4, 5)),
    (LayerNormalization, {**RANDOM_AFFINE, "axis": [1, 2, 3]}, (2, 3, 4, 5)),
    (LayerNormalization, {"center": False, "epsilon": 1e-5}, (2, 3, 4)),
    (GroupNormalization, {"groups": 2, **RANDOM_AFFINE}, (2, 5, 4)),
    (GroupNormalization, {"groups": 4, **RANDOM_AFFINE}, (2, 3, 3, 8)),
    (GroupNormalization, {"groups": 3, "axis": 1, **RANDOM_AFFINE}, (2, 6, 4, 3)),
    (GroupNormalization, {"groups": -1, **RANDOM_AFFINE}, (2, 5, 3)),
    (GroupNormalization, {"groups": 1, "scale": False, "beta_initializer": "ones"}, (2, 2, 2, 2, 4)),
    (UnitNormalization, {}, (3, 5)),
    (UnitNormalization, {"axis": 1}, (2, 3, 4)),
    (UnitNormalization, {"axis": [1, 2]}, (2, 3, 4, 2)),
]


@pytest.mark.parametrize("cls, kwargs, shape", CONFORMANCE)
def test_conformance_and_inference_matches_keras(cls, kwargs, shape):
    layer = run_layer_test(cls, kwargs, shape, expected_output_shape=shape)
    affine = cls is not UnitNormalization
    center, scale = kwargs.get("center", True), kwargs.get("scale", True)
    assert len(layer.trainable_weights) == (center + scale if affine else 0)
    assert len(layer.non_trainable_weights) == (2 if cls is BatchNormalization else 0)


def test_layer_normalization_over_leading_axes_matches_formula():
    # Keras's torch backend hands axes that are not the trailing ones to F.layer_norm as if they were (it fails or
    # normalises the wrong axis), so these cases are checked against the formula instead.
    for axis, shape in [(1, (2, 3, 4)), ([1, 3], (2, 3, 4, 5)), ([-3, -1], (2, 3, 4, 5))]:
        layer = run_layer_test(LayerNormalization, {**RANDOM_AFFINE, "axis": axis}, shape, compare_keras=False)
        x = batch(shape)
        axes = tuple(a % len(shape) for a in ([axis] if isinstance(axis, int) else axis))
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
        gamma, beta = layer.get_weights()
        bshape = [shape[i] if i in axes else 1 for i in range(len(shape))]
        expected = (x - mean) / np.sqrt(var + 1e-3) * gamma.reshape(bshape) + beta.reshape(bshape)
        np.testing.assert_allclose(numpy_of(layer(torch.from_numpy(x))), expected, atol=1e-5)


def test_batch_normalization_over_several_axes_uses_keras_2_layout():
    # Keras 3 takes a single axis; Keras 2 took a list, with weights shaped to broadcast (1 on the other axes).
    layer = run_layer_test(BatchNormalization, {**RANDOM_BN, "axis": [1, 3]}, (4, 3, 5, 2), compare_keras=False)
    assert [w.shape for w in layer.get_weights()] == [(1, 3, 1, 2)] * 4
    gamma, beta, mean, variance = layer.get_weights()
    x = batch((4, 3, 5, 2))
    np.testing.assert_allclose(numpy_of(layer(torch.from_numpy(x))), bn_numpy(x, (1, 3), gamma, beta, mean, variance),
                               atol=1e-5)
    y = numpy_of(layer(torch.from_numpy(x), training=True))
    np.testing.assert_allclose(y, bn_numpy(x, (1, 3), gamma, beta), atol=1e-5)
    batch_mean, batch_var = x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)
    np.testing.assert_allclose(layer.get_weights()[2], 0.99 * mean + 0.01 * batch_mean, atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[3], 0.99 * variance + 0.01 * batch_var, atol=1e-6)


# ----------------------------------------------------------------------------------- batch statistics against Keras
TRAINING = [  # (arguments, input shape): channels-last of every rank, channels-first, middle axes, no affine
    ({}, (8, 3)),
    ({"momentum": 0.5}, (4, 6, 3)),
    ({"momentum": 0.7}, (3, 5, 4, 6)),
    ({"axis": 1, "momentum": 0.6}, (3, 4, 5, 6)),
    ({"axis": 1, "momentum": 0.6}, (2, 4, 5, 6, 3)),
    ({"axis": 2, "momentum": 0.9}, (3, 2, 5, 3)),
    ({"axis": 0, "momentum": 0.8}, (3, 4, 5)),
    ({"center": False, "scale": False, "epsilon": 0.1, "momentum": 0.5}, (5, 2, 2, 4)),
]


@pytest.mark.parametrize("kwargs, shape", TRAINING)
def test_training_outputs_and_moving_statistics_match_keras(kwargs, shape):
    ours = BatchNormalization(**kwargs)
    ours(torch.zeros(shape))
    set_random_weights(ours)
    theirs = keras_twin(ours, shape, **kwargs)
    for step in range(3):
        x = batch(shape, seed=step, loc=step - 1.0, scale=1.0 + step)
        np.testing.assert_allclose(numpy_of(ours(torch.from_numpy(x), training=True)),
                                   numpy_of(theirs(x, training=True)), atol=2e-5, rtol=1e-5)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, numpy_of(keras_weight), atol=1e-5, rtol=1e-6)
    x = batch(shape, seed=9)
    np.testing.assert_allclose(numpy_of(ours(torch.from_numpy(x), training=False)),
                               numpy_of(theirs(x, training=False)), atol=2e-5, rtol=1e-5)


def test_moving_variance_is_updated_with_the_biased_batch_variance():
    layer = BatchNormalization(momentum=0.0)  # the moving statistics become the last batch's
    x = batch((5, 3))
    layer(torch.from_numpy(x), training=True)
    np.testing.assert_allclose(layer.get_weights()[2], x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[3], x.var(0, ddof=0), rtol=1e-5)


def test_one_value_per_channel_gives_variance_zero_as_keras():
    layer = BatchNormalization(beta_initializer="random_normal", momentum=0.5)
    x = batch((1, 4))
    y = layer(torch.from_numpy(x), training=True)
    theirs = keras_twin(layer, (1, 4), beta_initializer="random_normal", momentum=0.5)
    theirs.set_weights([np.ones(4), layer.get_weights()[1], np.zeros(4), np.ones(4)])
    np.testing.assert_allclose(numpy_of(y), numpy_of(theirs(x, training=True)), atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[3], theirs.get_weights()[3], atol=1e-7)


def test_mask_leaves_masked_steps_out_of_the_statistics_as_keras():
    ours = BatchNormalization(momentum=0.5)
    ours(torch.zeros(3, 5, 4))
    set_random_weights(ours)
    theirs = keras_twin(ours, (3, 5, 4), momentum=0.5)
    mask = np.random.default_rng(3).random((3, 5)) > 0.4
    for step in range(2):
        x = batch((3, 5, 4), seed=step)
        mine = ours(torch.from_numpy(x), training=True, mask=torch.from_numpy(mask))
        np.testing.assert_allclose(numpy_of(mine), numpy_of(theirs(x, training=True, mask=mask)), atol=2e-5)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, numpy_of(keras_weight), atol=1e-5)
    with pytest.raises(ValueError, match="one dimension less"):
        ours(torch.from_numpy(batch((3, 5, 4))), training=True, mask=torch.ones(3, 5, 4, dtype=torch.bool))


def test_renormalization_matches_keras():
    kwargs = dict(renorm=True, renorm_clipping={"rmax": 1.5, "rmin": 0.7, "dmax": 0.4}, renorm_momentum=0.6,
                  momentum=0.7)
    ours = BatchNormalization(**kwargs)
    ours(torch.zeros(6, 3))
    set_random_weights(ours)
    assert [w.shape for w in ours.get_weights()] == [(3,)] * 7
    theirs = keras_twin(ours, (6, 3), **kwargs)
    for step in range(3):
        x = batch((6, 3), seed=step, scale=3.0)
        np.testing.assert_allclose(numpy_of(ours(torch.from_numpy(x), training=True)),
                                   numpy_of(theirs(x, training=True)), atol=1e-5)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, numpy_of(keras_weight), atol=1e-5)


def test_gradients_through_batch_statistics_match_keras():
    ours = BatchNormalization(gamma_initializer="random_normal")
    x = batch((6, 4, 3))
    ours(torch.zeros(6, 4, 3))
    theirs = keras_twin(ours, (6, 4, 3), gamma_initializer="random_normal")
    weights = torch.from_numpy(batch((6, 4, 3), seed=5))
    x_ours, x_theirs = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(x_ours, training=True) * weights).sum().backward()
    (theirs(x_theirs, training=True) * weights).sum().backward()
    np.testing.assert_allclose(numpy_of(x_ours.grad), numpy_of(x_theirs.grad), atol=1e-5)
    np.testing.assert_allclose(numpy_of(ours.gamma.grad), numpy_of(theirs.gamma.value.grad), atol=1e-4)


# ------------------------------------------------------------------------------------------- modes and frozen layers
def test_training_argument_and_module_mode_choose_the_statistics():
    layer = BatchNormalization()
    x = torch.from_numpy(batch((16, 3)))
    inference = layer(x)  # layers start in inference mode: moving mean 0, variance 1
    np.testing.assert_allclose(numpy_of(inference), numpy_of(x) / np.sqrt(1 + 1e-3), rtol=1e-5)
    layer.train()
    training = layer(x)
    np.testing.assert_allclose(numpy_of(training).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(numpy_of(layer(x, training=False)), numpy_of(x - layer.moving_mean) /
                               np.sqrt(numpy_of(layer.moving_variance) + 1e-3), atol=1e-5)


def test_frozen_batch_normalization_runs_in_inference_mode():
    layer = BatchNormalization()
    layer(torch.zeros(4, 3))
    set_random_weights(layer)
    before = layer.get_weights()
    layer.trainable = False
    x = torch.from_numpy(batch((8, 3)))
    np.testing.assert_allclose(numpy_of(layer(x, training=True)), numpy_of(layer(x, training=False)))
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 4


def _bn_model(freeze):
    model = deepglass.Sequential([Input((4,)), Dense(6, name="dense"), BatchNormalization(name="bn"),
                                  Dense(1, name="head")])
    model.get_layer("bn").trainable = not freeze
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_fit_with_frozen_batch_normalization_keeps_its_statistics():
    x, y = batch((32, 4)), batch((32, 1))
    frozen = _bn_model(freeze=True)
    before = frozen.get_layer("bn").get_weights()
    frozen.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for old, new in zip(before, frozen.get_layer("bn").get_weights()):
        np.testing.assert_array_equal(old, new)
    trained = _bn_model(freeze=False)  # the same fit moves an unfrozen layer's statistics
    before = trained.get_layer("bn").get_weights()
    trained.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(before[2], trained.get_layer("bn").get_weights()[2])


# ------------------------------------------------------------------------------------- models, counts and summaries
def test_axis_1_on_five_dimensional_inputs_as_keras():
    def build(k):
        return k.Sequential([k.Input((4, 5, 6, 3)), k.layers.BatchNormalization(axis=1, name="bn")],
                            name="sequential")
    ours, theirs = build(deepglass), build(keras)
    assert [w.shape for w in ours.get_layer("bn").get_weights()] == [(4,)] * 4
    assert ours.count_params() == theirs.count_params() == 16
    captured = []
    theirs.summary(print_fn=captured.append)
    assert summary_string(ours) == captured[0]


def test_conv3d_and_batch_normalization_counts_as_keras():
    def build(k):
        return k.Sequential([k.Input((6, 6, 6, 2)), k.layers.Conv3D(5, 3, name="conv_a"),
                             k.layers.BatchNormalization(name="bn_a"), k.layers.Conv3D(4, 2, name="conv_b"),
                             k.layers.BatchNormalization(axis=1, name="bn_b")], name="volumes")
    def sizes(weights):
        return sum(int(np.prod(tuple(w.shape))) for w in weights)

    ours, theirs = build(deepglass), build(keras)
    assert ours.count_params() == theirs.count_params()
    assert sizes(ours.trainable_weights) == sizes(theirs.trainable_weights)
    assert sizes(ours.non_trainable_weights) == sizes(theirs.non_trainable_weights) == 2 * 5 + 2 * 3
    captured = []
    theirs.summary(print_fn=captured.append)
    assert summary_string(ours) == captured[0]


def test_configs_have_keras_keys_and_round_trip():
    for name, kwargs in [("BatchNormalization", {}), ("LayerNormalization", {}), ("GroupNormalization", {"groups": 2}),
                         ("UnitNormalization", {})]:
        ours = getattr(deepglass.layers, name)(**kwargs)
        theirs = getattr(keras.layers, name)(**kwargs)
        assert set(ours.get_config()) >= set(theirs.get_config()) - {"dtype"}, name
        rebuilt = deepglass.layers.deserialize(deepglass.layers.serialize(ours))
        assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    config = BatchNormalization(axis=1, momentum=0.9, renorm=True, renorm_clipping={"rmax": 2.0}).get_config()
    rebuilt = BatchNormalization.from_config(config)
    assert (rebuilt.axis, rebuilt.momentum, rebuilt.renorm_clipping) == (1, 0.9, {"rmax": 2.0})


# ------------------------------------------------------------------------------------------- the other layers vs Keras
def test_layer_normalization_rms_scaling_matches_keras():
    with pytest.warns(UserWarning, match="rms_scaling"):
        ours = LayerNormalization(rms_scaling=True, gamma_initializer="random_normal")
    x = batch((3, 4, 5))
    y = ours(torch.from_numpy(x))
    assert len(ours.get_weights()) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns at each call too
        theirs = keras_twin(ours, (3, 4, 5), rms_scaling=True)
        np.testing.assert_allclose(numpy_of(y), numpy_of(theirs(x)), atol=1e-5)


def test_layer_normalization_with_trailing_axis_takes_any_rank():
    layer = LayerNormalization(gamma_initializer="random_normal")
    layer(torch.zeros(2, 4))
    x = batch((2, 3, 4))
    theirs = keras_twin(layer, (2, 4))
    np.testing.assert_allclose(numpy_of(layer(torch.from_numpy(x))), numpy_of(theirs(x)), atol=1e-5)


def test_group_normalization_channels_first_matches_keras():
    ours = GroupNormalization(groups=2, axis=1, **RANDOM_AFFINE)
    x = batch((2, 4, 3, 5))
    y = ours(torch.from_numpy(x))
    theirs = keras_twin(ours, (2, 4, 3, 5), groups=2, axis=1)
    np.testing.assert_allclose(numpy_of(y), numpy_of(theirs(x)), atol=1e-5)
    grouped = x.reshape(2, 2, 2, 3, 5)  # by hand: the groups are runs of consecutive channels
    normal = (grouped - grouped.mean((2, 3, 4), keepdims=True)) / np.sqrt(grouped.var((2, 3, 4), keepdims=True) + 1e-3)
    gamma, beta = ours.get_weights()
    expected = normal.reshape(x.shape) * gamma.reshape(1, 4, 1, 1) + beta.reshape(1, 4, 1, 1)
    np.testing.assert_allclose(numpy_of(y), expected, atol=1e-5)


def test_unit_normalization_by_hand():
    layer = UnitNormalization()
    np.testing.assert_allclose(numpy_of(layer(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))), [[0.6, 0.8], [0.0, 0.0]])
    x = batch((2, 3, 4))
    y = numpy_of(UnitNormalization(axis=[1, 2])(torch.from_numpy(x)))
    np.testing.assert_allclose(y, x / np.sqrt((x ** 2).sum((1, 2), keepdims=True)), rtol=1e-5)


def test_half_precision_inputs_are_normalised_in_float32():
    for layer in [BatchNormalization(), LayerNormalization(), GroupNormalization(groups=2)]:
        x = torch.from_numpy(batch((4, 6)) * 100)
        expected = layer(x, training=True) if isinstance(layer, BatchNormalization) else layer(x)
        y = layer(x.half(), training=True) if isinstance(layer, BatchNormalization) else layer(x.half())
        assert y.dtype == torch.float16 and layer.get_weights()[0].dtype == np.float32
        np.testing.assert_allclose(numpy_of(y.float()), numpy_of(expected), atol=2e-2)


def test_synchronized_statistics_in_a_process_group():
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("needs torch.distributed and no process group already running")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        synced, local = BatchNormalization(synchronized=True), BatchNormalization()
        x = batch((6, 5, 3))
        x_synced, x_local = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y_synced, y_local = synced(x_synced, training=True), local(x_local, training=True)
        (y_synced * torch.from_numpy(x)).sum().backward()
        (y_local * torch.from_numpy(x)).sum().backward()
    finally:
        dist.destroy_process_group()
    np.testing.assert_allclose(numpy_of(y_synced), numpy_of(y_local), atol=1e-5)
    np.testing.assert_allclose(numpy_of(x_synced.grad), numpy_of(x_local.grad), atol=1e-5)
    for a, b in zip(synced.get_weights(), local.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_keras_1_spellings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = BatchNormalization(beta_init="one", gamma_init="zero", mode=0)
    messages = " ".join(str(w.message) for w in caught if w.category is DeprecationWarning)
    assert "`beta_init`" in messages and "`gamma_init`" in messages and "`mode=0`" in messages
    assert type(layer.beta_initializer).__name__ == "Ones" and type(layer.gamma_initializer).__name__ == "Zeros"
    with pytest.raises(ValueError, match="mode=2"):
        BatchNormalization(mode=2)


# ------------------------------------------------------------------------------------------------------- bad input
def test_bad_arguments_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="out of range"):
        BatchNormalization(axis=4)(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="out of range"):
        BatchNormalization(axis=-5).compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match="known size on axis"):
        BatchNormalization(axis=1)(Input((None, 3)))
    with pytest.raises(ValueError, match="out of range"):
        LayerNormalization(axis=[1, 3])(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="twice"):
        LayerNormalization(axis=[2, -1])(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="axis"):
        UnitNormalization(axis="last")
    with pytest.raises(ValueError, match="divisible by groups=4"):
        GroupNormalization(groups=4)(torch.zeros(2, 6))
    with pytest.raises(ValueError, match="divisible by groups=8"):
        GroupNormalization(groups=8)(torch.zeros(2, 6))
    with pytest.raises(ValueError, match="groups"):
        GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="batch axis"):
        GroupNormalization(groups=1, axis=0)(torch.zeros(2, 6))
    with pytest.raises(ValueError, match="renorm_clipping"):
        BatchNormalization(renorm=True, renorm_clipping={"rmax": 1.0, "rmin": 2.0})
    with pytest.raises(ValueError, match="invalid keys"):
        BatchNormalization(renorm=True, renorm_clipping={"r": 1.0})
    layer = BatchNormalization()
    layer(torch.zeros(2, 5, 3))
    with checked_calls(), pytest.raises(ValueError, match='BatchNormalization "batch_normalization.*last axis 3'):
        layer(torch.zeros(2, 5, 4))


def test_channels_last_batch_goes_through_torch_kernel(monkeypatch):
    calls = []
    real = torch.batch_norm

    def spy(view, *args):
        calls.append(view.is_contiguous(memory_format=torch.channels_last))
        return real(view, *args)

    monkeypatch.setattr(normalization.torch, "batch_norm", spy)
    layer = BatchNormalization()
    layer(torch.zeros(2, 4, 4, 3), training=True)
    layer(torch.zeros(2, 4, 4, 3))
    assert calls == [True, True]  # an NHWC tensor seen as NCHW with no copy, in training and inference
