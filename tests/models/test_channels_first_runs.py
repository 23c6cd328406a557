"""Models run chains of image layers on channels-first views (deepglass.models.channels_first): the values, the
gradients and the moving statistics are those of the layer-by-layer Keras-layout path, and only the permutes go."""
import contextlib

import pytest
import torch
from torch.overrides import TorchFunctionMode

import deepglass
from deepglass import layers


def residual_net(input_shape=(8, 8, 3)):
    """Conv, BN, activations, a same-padded max pool, Add with a shortcut, dropout, GAP and a Dense head."""
    inputs = deepglass.Input(input_shape)
    x = layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    y = layers.Conv2D(6, 3, strides=1, padding="same", activation="tanh")(x)
    y = layers.BatchNormalization()(y)
    x = layers.Activation("relu")(layers.Add()([x, y]))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.GlobalAveragePooling2D()(layers.BatchNormalization()(x))
    return deepglass.Model(inputs, layers.Dense(3, activation="softmax")(x))


def course_cnn(input_shape=(12, 12, 1)):
    return deepglass.Sequential([
        deepglass.Input(input_shape), layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2), layers.Dropout(0.25),
        layers.SpatialDropout2D(0.3),
        layers.BatchNormalization(), layers.AveragePooling2D(2, padding="same"), layers.Flatten(),
        layers.Dense(5, activation="relu"), layers.BatchNormalization(), layers.Dense(2)])


def volume_net(input_shape=(6, 6, 6, 2)):
    return deepglass.Sequential([
        deepglass.Input(input_shape), layers.Conv3D(3, 3, padding="same"), layers.BatchNormalization(),
        layers.Activation("elu"), layers.MaxPooling3D(2), layers.GlobalMaxPooling3D(keepdims=True),
        layers.Flatten(), layers.Dense(2)])


def small_unet(input_shape=(8, 8, 2)):
    """Padding, cropping, transposed, depthwise and separable convolutions, the activation layers, upsampling (which
    runs on Keras's layout) and a skip connection concatenated along the channels."""
    inputs = deepglass.Input(input_shape)
    skip = layers.ReLU(max_value=2.0)(layers.Conv2D(4, 3, padding="same")(inputs))
    x = layers.ZeroPadding2D(((2, 1), (1, 2)))(layers.MaxPooling2D(2)(skip))
    x = layers.LeakyReLU(0.1)(layers.DepthwiseConv2D(3, depth_multiplier=2)(x))
    x = layers.ELU()(layers.Conv2DTranspose(3, 2, strides=2, padding="same")(x))
    x = layers.Cropping2D(((1, 1), (0, 2)))(x)
    x = layers.Concatenate()([layers.UpSampling2D(2)(layers.AveragePooling2D(2)(x)), skip])
    x = layers.SeparableConv2D(3, 3, padding="same", activation="relu")(x)
    return deepglass.Model(inputs, layers.Conv2D(1, 1, activation="sigmoid")(x))


@contextlib.contextmanager
def keras_layout_everywhere():
    """With a global module hook set, models call every layer on Keras's layout: the reference path."""
    handle = torch.nn.modules.module.register_module_forward_hook(lambda module, args, output: None)
    try:
        yield
    finally:
        handle.remove()


class PermuteCount(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.permute, torch.permute, torch.Tensor.movedim, torch.movedim):
            self.count += 1
        return func(*args, **(kwargs or {}))


def train_step(model, x, seed):
    """One forward and backward pass in training mode: the outputs, each weight's gradient, every weight after."""
    torch.manual_seed(seed)
    model.zero_grad(set_to_none=True)
    outputs = model(x, training=True)
    (outputs * torch.arange(1.0, outputs.shape[-1] + 1)).sum().backward()
    return outputs.detach(), [p.grad for p in model.parameters()], [w.clone() for w in model.state_dict().values()]


@pytest.mark.parametrize("build, shape", [(residual_net, (5, 8, 8, 3)), (course_cnn, (5, 12, 12, 1)),
                                          (volume_net, (3, 6, 6, 6, 2)), (small_unet, (2, 8, 8, 2))])
def test_same_outputs_gradients_and_moving_statistics_as_the_keras_layout_path(build, shape):
    torch.manual_seed(0)
    model, x = build(), torch.randn(shape)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    fast = train_step(model, x, seed=1)
    model.load_state_dict(initial)
    with keras_layout_everywhere():
        reference = train_step(model, x, seed=1)
    torch.testing.assert_close(fast[0], reference[0], rtol=1e-6, atol=1e-7)
    for mine, theirs in zip(fast[1] + fast[2], reference[1] + reference[2]):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
    model.eval()
    torch.testing.assert_close(model(x), _reference_call(model, x), rtol=1e-6, atol=1e-7)


def _reference_call(model, x):
    with keras_layout_everywhere():
        return model(x)


@pytest.mark.parametrize("build, shape, expected", [(residual_net, (2, 8, 8, 3), 1), (course_cnn, (2, 12, 12, 1), 2)])
def test_a_model_permutes_only_where_the_layout_changes(build, shape, expected):
    """The residual net turns its input channels-first once (GAP's output has no channels axis to move); the
    Sequential CNN also turns it back before Flatten. Layer by layer, each image layer permutes twice."""
    model, x = build(), torch.randn(shape)
    with PermuteCount() as fast:
        model(x)
    with keras_layout_everywhere(), PermuteCount() as layer_by_layer:
        model(x)
    assert fast.count == expected
    assert layer_by_layer.count > 2 * expected


def test_hooks_see_keras_layout_and_gradients_reach_an_intermediate_output():
    model = residual_net()
    conv = model.layers[1]
    seen = []
    conv.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    x = torch.randn(2, 8, 8, 3)
    model(x)
    assert seen == [(2, 8, 8, 6)]

    # Grad-CAM's model: the last feature map (after batch normalisation) next to the predictions, and the gradient
    # of one class's score with respect to it.
    feature_layer = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)][-1]
    grad_model = deepglass.Model(model.inputs, [feature_layer.output, model.output])
    grad_model.eval()
    features, predictions = grad_model(x)
    assert features.shape == (2, 2, 2, 8)
    (gradient,) = torch.autograd.grad(predictions[:, 0].sum(), features)
    with keras_layout_everywhere():
        features, predictions = grad_model(x)
        (expected,) = torch.autograd.grad(predictions[:, 0].sum(), features)
    torch.testing.assert_close(gradient, expected)


def test_add_of_a_keras_layout_input_and_a_channels_first_branch():
    inputs = deepglass.Input((4, 4, 3))
    branch = layers.BatchNormalization()(layers.Conv2D(3, 1)(inputs))
    outputs = layers.Conv2D(2, 1)(layers.Add()([inputs, branch]))
    model = deepglass.Model(inputs, outputs)
    x = torch.randn(2, 4, 4, 3)
    torch.testing.assert_close(model(x), _reference_call(model, x))


def test_batch_normalization_with_one_value_per_channel_falls_back_to_keras_statistics():
    """A batch of one 1x1 image gives torch's kernel one value per channel, which it refuses; Keras's statistics
    (variance 0) are written out instead, as on the Keras-layout path."""
    model = deepglass.Sequential([deepglass.Input((1, 1, 2)), layers.Conv2D(3, 1), layers.BatchNormalization(),
                                  layers.Conv2D(1, 1)])
    x = torch.randn(1, 1, 1, 2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    fast = train_step(model, x, seed=0)
    model.load_state_dict(initial)
    with keras_layout_everywhere():
        reference = train_step(model, x, seed=0)
    for mine, theirs in zip([fast[0]] + fast[2], [reference[0]] + reference[2]):
        torch.testing.assert_close(mine, theirs)


def test_inception_branches_concatenate_channels_first_along_the_keras_axis():
    inputs = deepglass.Input((6, 6, 4))
    branches = [layers.Conv2D(2, 1, activation="relu")(inputs), layers.Conv2D(3, 3, padding="same")(inputs),
                layers.MaxPooling2D(3, strides=1, padding="same")(inputs)]
    merged = layers.BatchNormalization()(layers.Concatenate()(branches))
    across_rows = layers.Concatenate(axis=1)([merged, layers.Conv2D(9, 1)(merged)])
    model = deepglass.Model(inputs, [merged, layers.Conv2D(2, 1)(across_rows)])
    x = torch.randn(2, 6, 6, 4)
    with PermuteCount() as fast:
        outputs = model(x)
    assert [tuple(t.shape) for t in outputs] == [(2, 6, 6, 9), (2, 12, 6, 2)]
    assert fast.count == 4  # the input; each output back to Keras's layout; the view later layers take of the first
    for mine, theirs in zip(outputs, _reference_call(model, x)):
        torch.testing.assert_close(mine, theirs)


def test_cropping_too_much_on_the_channels_first_path_names_the_keras_layout_shape():
    model = deepglass.Sequential([deepglass.Input((None, None, 1)), layers.Conv2D(4, 1), layers.Cropping2D(2),
                                  layers.Conv2D(1, 1)])
    model(torch.randn(1, 8, 8, 1))
    with pytest.raises(ValueError, match=r"crops 4 entries from the height axis of its input \(1, 3, 5, 4\)"):
        model(torch.randn(1, 3, 5, 1))


def test_seeded_spatial_dropout_draws_the_same_channels_in_either_layout():
    """Its mask is (batch, channels) with size-1 spatial axes in both layouts, so a seed gives the same channels."""
    def build():
        torch.manual_seed(0)
        return deepglass.Sequential([deepglass.Input((6, 6, 8)), layers.Conv2D(8, 1),
                                     layers.SpatialDropout2D(0.5, seed=4), layers.Conv2D(2, 1)])

    x = torch.randn(3, 6, 6, 8)
    fast, reference = build(), build()
    outputs = fast(x, training=True)
    with keras_layout_everywhere():
        expected = reference(x, training=True)
    torch.testing.assert_close(outputs, expected)
    dropped = (fast.layers[1](fast.layers[0](x), training=True) == 0).all(dim=(1, 2))
    assert 0 < dropped.sum() < dropped.numel()  # some channels dropped, not all: the comparison means something
