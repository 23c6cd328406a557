"""Every registered layer survives `.keras`, `.weights.h5` and `.safetensors`: the same predictions after a round
trip (the weights are perturbed first, so that freshly initialised values would not pass)."""
import numpy as np
import pytest
import torch

import deepglass
from deepglass import layers as L
from deepglass.saving.serialization import keras_class_name
from deepglass.utils import tree

pytest.importorskip("h5py")
pytest.importorskip("safetensors")
pytestmark = pytest.mark.filterwarnings("ignore:Deconvolution:DeprecationWarning")  # Keras 1 names, built on purpose


def single(**kwargs):
    """The case of a layer applied to one input: `cls(**kwargs)(x)`."""
    return lambda cls, xs: cls(**kwargs)(xs[0])


def merged(**kwargs):
    return lambda cls, xs: cls(**kwargs)(list(xs))


def unpooled(rank):
    pool = getattr(L, f"MaxPooling{rank}DWithIndices")
    return lambda cls, xs: cls(2)(list(pool(2)(xs[0])))


def with_indices():
    return lambda cls, xs: list(cls(2)(xs[0]))


def token_ids(x):
    """Small integer ids (0 to 3) from float inputs, for layers that take tokens."""
    return L.Discretization(bin_boundaries=[-1.0, 0.0, 1.0])(x)


V, I2, I1, I3 = (6,), (6, 6, 2), (8, 3), (4, 4, 4, 2)
# class name -> (input shapes without the batch axis, how to call the layer)
CASES = {
    "Activation": ([V], single(activation="tanh")),
    "ActivityRegularization": ([V], single(l1=0.01)),
    "Add": ([V, V], merged()), "Average": ([V, V], merged()), "Maximum": ([V, V], merged()),
    "Minimum": ([V, V], merged()), "Multiply": ([V, V], merged()), "Subtract": ([V, V], merged()),
    "Concatenate": ([V, V], merged(axis=-1)), "Dot": ([V, V], merged(axes=1)),
    "AlphaDropout": ([V], single(rate=0.2)), "Dropout": ([V], single(rate=0.3)),
    "GaussianDropout": ([V], single(rate=0.2)), "GaussianNoise": ([V], single(stddev=0.1)),
    "SpatialDropout1D": ([I1], single(rate=0.2)), "SpatialDropout2D": ([I2], single(rate=0.2)),
    "SpatialDropout3D": ([I3], single(rate=0.2)),
    "AveragePooling1D": ([I1], single(pool_size=2)), "AveragePooling2D": ([I2], single(pool_size=2)),
    "AveragePooling3D": ([I3], single(pool_size=2)), "MaxPooling1D": ([I1], single(pool_size=2)),
    "MaxPooling2D": ([I2], single(pool_size=2)), "MaxPooling3D": ([I3], single(pool_size=2)),
    "SumPooling1D": ([I1], single(pool_size=2)), "SumPooling2D": ([I2], single(pool_size=2)),
    "SumPooling3D": ([I3], single(pool_size=2)), "LPPooling1D": ([I1], single(pool_size=2)),
    "LPPooling2D": ([I2], single(pool_size=2)), "LPPooling3D": ([I3], single(pool_size=2)),
    "MaxPooling1DWithIndices": ([I1], with_indices()), "MaxPooling2DWithIndices": ([I2], with_indices()),
    "MaxPooling3DWithIndices": ([I3], with_indices()),
    "MaxUnpooling1D": ([I1], unpooled(1)), "MaxUnpooling2D": ([I2], unpooled(2)), "MaxUnpooling3D": ([I3], unpooled(3)),
    "GlobalAveragePooling1D": ([I1], single()), "GlobalAveragePooling2D": ([I2], single()),
    "GlobalAveragePooling3D": ([I3], single()), "GlobalMaxPooling1D": ([I1], single()),
    "GlobalMaxPooling2D": ([I2], single()), "GlobalMaxPooling3D": ([I3], single()),
    "CategoryEncoding": ([V], single(num_tokens=8, output_mode="count")),
    "CenterCrop": ([I2], single(height=4, width=3)),
    "Discretization": ([V], single(bin_boundaries=[-0.5, 0.0, 0.5])),
    "Normalization": ([V], single(axis=-1)),
    "Rescaling": ([I2], single(scale=0.5, offset=1.0)),
    "Resizing": ([I2], single(height=4, width=9)),
    "BatchNormalization": ([I2], single()), "GroupNormalization": ([I2], single(groups=2)),
    "LayerNormalization": ([V], single()), "UnitNormalization": ([V], single()),
    "Conv1D": ([I1], single(filters=3, kernel_size=3)), "Conv2D": ([I2], single(filters=3, kernel_size=3)),
    "Conv3D": ([I3], single(filters=3, kernel_size=2)),
    "Convolution1D": ([I1], single(filters=3, kernel_size=3)),
    "Convolution2D": ([I2], single(filters=3, kernel_size=3)),
    "Convolution3D": ([I3], single(filters=3, kernel_size=2)),
    "Conv1DTranspose": ([I1], single(filters=3, kernel_size=3)),
    "Conv2DTranspose": ([I2], single(filters=3, kernel_size=3, strides=2)),
    "Conv3DTranspose": ([I3], single(filters=3, kernel_size=2)),
    "Deconvolution2D": ([I2], single(filters=3, kernel_size=3)),
    "Deconvolution3D": ([I3], single(filters=3, kernel_size=2)),
    "DepthwiseConv1D": ([I1], single(kernel_size=3)), "DepthwiseConv2D": ([I2], single(kernel_size=3)),
    "SeparableConv1D": ([I1], single(filters=4, kernel_size=3)),
    "SeparableConv2D": ([I2], single(filters=4, kernel_size=3)),
    "SeparableConvolution2D": ([I2], single(filters=4, kernel_size=3)),
    "Cropping1D": ([I1], single(cropping=1)), "Cropping2D": ([I2], single(cropping=1)),
    "Cropping3D": ([I3], single(cropping=1)), "ZeroPadding1D": ([I1], single(padding=1)),
    "ZeroPadding2D": ([I2], single(padding=1)), "ZeroPadding3D": ([I3], single(padding=1)),
    "UpSampling1D": ([I1], single(size=2)), "UpSampling2D": ([I2], single(size=2)),
    "UpSampling3D": ([I3], single(size=2)),
    "Dense": ([V], single(units=3, activation="relu")), "Identity": ([V], single()),
    "Flatten": ([I2], single()), "Permute": ([I1], single(dims=(2, 1))), "Reshape": ([V], single(target_shape=(2, 3))),
    "RepeatVector": ([V], single(n=3)),
    "ELU": ([V], single()), "LeakyReLU": ([V], single()), "PReLU": ([V], single()), "ReLU": ([V], single()),
    "Softmax": ([V], single()), "Maxout": ([V], single(num_units=3)),
    "Lambda": ([V], single(function=lambda x: x * 2 + 1)),
    "RandomFlip": ([I2], single()), "RandomRotation": ([I2], single(factor=0.2)),
    "RandomTranslation": ([I2], single(height_factor=0.1, width_factor=0.2)),
    "RandomZoom": ([I2], single(height_factor=0.2)), "RandomContrast": ([I2], single(factor=0.2)),
    "RandomBrightness": ([I2], single(factor=0.2)), "RandomCrop": ([I2], single(height=4, width=3)),
    "MixUp": ([I2], single()), "CutMix": ([I2], single()),
    "Embedding": ([(5,)], lambda c, xs: c(input_dim=4, output_dim=3, mask_zero=True)(token_ids(xs[0]))),
    "TokenAndPositionEmbedding": ([(5,)], lambda c, xs: c(vocabulary_size=4, sequence_length=5, embedding_dim=4)(
        token_ids(xs[0]))),
    "Masking": ([(5, 6)], single(mask_value=0.0)), "PositionalEmbedding": ([(5, 6)], single(sequence_length=5)),
    "Attention": ([(5, 6), (5, 6)], merged(use_scale=True)), "AdditiveAttention": ([(5, 6), (5, 6)], merged()),
    "MultiHeadAttention": ([(5, 6), (7, 4)], lambda c, xs: c(num_heads=2, key_dim=3)(xs[0], xs[1])),
    "GroupedQueryAttention": ([(5, 6), (7, 6)], lambda c, xs: c(head_dim=3, num_query_heads=4,
                                                                 num_key_value_heads=2)(xs[0], xs[1])),
    "GroupQueryAttention": ([(5, 6), (7, 6)], lambda c, xs: c(head_dim=3, num_query_heads=4,
                                                               num_key_value_heads=2)(xs[0], xs[1])),
    "SimpleRNN": ([I1], single(units=3, return_sequences=True)), "LSTM": ([I1], single(units=3)),
    "GRU": ([I1], single(units=3, go_backwards=True)),
    "RNN": ([I1], lambda c, xs: c([L.LSTMCell(3), L.GRUCell(2)])(xs[0])),
    "Bidirectional": ([I1], lambda c, xs: c(L.LSTM(3, return_sequences=True))(xs[0])),
    "TimeDistributed": ([I2], lambda c, xs: c(L.Dense(3))(xs[0])),
    "ConvLSTM1D": ([(4, 8, 2)], single(filters=3, kernel_size=3)),
    "ConvLSTM2D": ([(3, 5, 5, 2)], single(filters=2, kernel_size=3, padding="same", return_sequences=True)),
    "ConvLSTM3D": ([(2, 1, 3, 3, 3)], single(filters=2, kernel_size=2, data_format="channels_first")),
    "Hashing": ([V], single(num_bins=5, output_mode="count")),
    "IntegerLookup": ([V], single(vocabulary=[0, 1, -1, 2], output_mode="multi_hot")),
    "TransformerEncoder": ([(5, 6)], single(intermediate_dim=8, num_heads=2)),
    "TransformerDecoder": ([(5, 6), (7, 4)], lambda c, xs: c(intermediate_dim=8, num_heads=2)(xs[0], xs[1])),
}
# Covered by every case above (each model starts with one), by the RNN case (cells), or by the layer's own save/load
# tests (string inputs).
COVERED_ELSEWHERE = {"InputLayer", "StringLookup", "TextVectorization", "GRUCell", "LSTMCell", "SimpleRNNCell",
                     "StackedRNNCells"}


def test_every_registered_layer_has_a_case():
    registered = set(deepglass.layers._registry.classes)
    missing = sorted(registered - set(CASES) - COVERED_ELSEWHERE)
    assert not missing, f"add a save/load case for {missing} to CASES in {__file__}"


def build(name):
    shapes, call = CASES[name]
    inputs = [deepglass.Input(shape) for shape in shapes]
    outputs = call(getattr(L, name), inputs)
    return deepglass.Model(inputs, outputs)


def perturbed(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([w + np.abs(rng.normal(size=w.shape)).astype(w.dtype) * 0.3 if w.dtype.kind == "f" else w
                       for w in model.get_weights()])
    return model


def data(name):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3,) + shape).astype("float32") for shape in CASES[name][0]]


def outputs(model, x):
    with torch.no_grad():
        return [t.numpy() for t in tree.flatten(model([torch.from_numpy(v) for v in x]))]


def assert_same_predictions(a, b, x):
    for mine, theirs in zip(outputs(a, x), outputs(b, x), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trips(name, tmp_path):
    model = perturbed(build(name))
    x = data(name)
    model.save(tmp_path / "m.keras")
    restored = deepglass.saving.load_model(tmp_path / "m.keras", safe_mode=name != "Lambda")
    # Keras 1 spellings (Convolution2D, a subclass taking Keras 1 arguments) come back as the Keras 3 class.
    assert type(restored.layers[-1]).__name__ == keras_class_name(getattr(L, name))
    assert_same_predictions(model, restored, x)
    for suffix in (".weights.h5", ".safetensors"):
        model.save_weights(tmp_path / f"w{suffix}")
        twin = build(name)  # same architecture, other layer names, fresh weights
        twin.load_weights(tmp_path / f"w{suffix}")
        assert_same_predictions(model, twin, x)
