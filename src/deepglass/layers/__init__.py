"""Layers: the building blocks of models. Every layer is a `torch.nn.Module`."""
from deepglass.layers.activations import ELU, LeakyReLU, Maxout, PReLU, ReLU, Softmax
from deepglass.layers.convolutional import Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D
from deepglass.layers.conv_transpose import (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose, Convolution1DTranspose, Convolution2DTranspose,
    Convolution3DTranspose, Deconv2D, Deconv3D, Deconvolution2D, Deconvolution3D,
)
from deepglass.layers.depthwise_separable import (
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D,
)
from deepglass.layers.core import Activation, Dense, Dropout, Identity, Input, InputLayer
from deepglass.layers.input_spec import InputSpec
from deepglass.layers.lambda_layer import Lambda
from deepglass.layers.layer import Layer
from deepglass.layers.merging import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum,
    minimum, multiply, subtract,
)
from deepglass.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)
from deepglass.layers.pooling_extra import (
    LPPooling1D, LPPooling2D, LPPooling3D, MaxPooling1DWithIndices, MaxPooling2DWithIndices, MaxPooling3DWithIndices,
    MaxUnpooling1D, MaxUnpooling2D, MaxUnpooling3D, SumPooling1D, SumPooling2D, SumPooling3D,
)
from deepglass.layers.normalization import (
    BatchNormalization, GroupNormalization, LayerNormalization, UnitNormalization,
)
from deepglass.layers.padding import Cropping1D, Cropping2D, Cropping3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D
from deepglass.layers.regularization import (
    ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
    SpatialDropout3D,
)
from deepglass.layers.reshaping import Flatten, Permute, Reshape
from deepglass.layers.recurrent import GRU, LSTM, SimpleRNN
from deepglass.layers.rnn import RNN, StackedRNNCells
from deepglass.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from deepglass.layers.rnn_wrappers import Bidirectional, TimeDistributed
from deepglass.layers.preprocessing import CategoryEncoding, Discretization, Normalization, Rescaling
from deepglass.layers.preprocessing_image import CenterCrop, Resizing
from deepglass.layers.hashing import Hashing
from deepglass.layers.lookup import IntegerLookup, StringLookup
from deepglass.layers.text_vectorization import TextVectorization
from deepglass.layers.augmentation_color import RandomBrightness, RandomContrast
from deepglass.layers.augmentation_geometric import (
    RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
)
from deepglass.layers.augmentation_mix import CutMix, MixUp
from deepglass.layers.reshaping import RepeatVector
from deepglass.layers.sampling import UpSampling1D, UpSampling2D, UpSampling3D
from deepglass.layers.torch_wrapper import TorchModuleWrapper
from deepglass.layers.attention import AdditiveAttention, Attention
from deepglass.layers.embedding import Embedding, Masking
from deepglass.layers.multi_head_attention import GroupedQueryAttention, GroupQueryAttention, MultiHeadAttention
from deepglass.layers.transformer import (
    PositionalEmbedding, TokenAndPositionEmbedding, TransformerDecoder, TransformerEncoder,
)
from deepglass.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from deepglass.serialization import Registry

_LAYER_CLASSES = [Activation, Dense, Dropout, Flatten, Identity, InputLayer, Lambda, Permute, Reshape]
_LAYER_CLASSES += [Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D]
_LAYER_CLASSES += [MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D]
_LAYER_CLASSES += [GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, GlobalAveragePooling1D,
                   GlobalAveragePooling2D, GlobalAveragePooling3D]
_LAYER_CLASSES += [Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract]
_LAYER_CLASSES += [ELU, LeakyReLU, Maxout, PReLU, ReLU, Softmax]
_LAYER_CLASSES += [Cropping1D, Cropping2D, Cropping3D, RepeatVector, UpSampling1D, UpSampling2D, UpSampling3D,
                   ZeroPadding1D, ZeroPadding2D, ZeroPadding3D]
_LAYER_CLASSES += [ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                   SpatialDropout2D, SpatialDropout3D]
_LAYER_CLASSES += [BatchNormalization, GroupNormalization, LayerNormalization, UnitNormalization]
_LAYER_CLASSES += [Conv1DTranspose, Conv2DTranspose, Conv3DTranspose, Deconvolution2D, Deconvolution3D]
_LAYER_CLASSES += [DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution2D]
_LAYER_CLASSES += [SumPooling1D, SumPooling2D, SumPooling3D, LPPooling1D, LPPooling2D, LPPooling3D,
                   MaxPooling1DWithIndices, MaxPooling2DWithIndices, MaxPooling3DWithIndices, MaxUnpooling1D,
                   MaxUnpooling2D, MaxUnpooling3D]
_LAYER_CLASSES += [CategoryEncoding, CenterCrop, Discretization, Normalization, Rescaling, Resizing]
_LAYER_CLASSES += [Hashing, IntegerLookup, StringLookup, TextVectorization]
_LAYER_CLASSES += [CutMix, MixUp, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                   RandomTranslation, RandomZoom]
_LAYER_CLASSES += [GRU, GRUCell, LSTM, LSTMCell, RNN, SimpleRNN, SimpleRNNCell, StackedRNNCells, Bidirectional,
                   TimeDistributed]
_LAYER_CLASSES += [AdditiveAttention, Attention, Embedding, GroupedQueryAttention, Masking, MultiHeadAttention,
                   PositionalEmbedding, TokenAndPositionEmbedding, TransformerDecoder, TransformerEncoder]
_LAYER_CLASSES += [ConvLSTM1D, ConvLSTM2D, ConvLSTM3D]
_registry = Registry("layer", _LAYER_CLASSES)
_registry.classes["GroupQueryAttention"] = GroupQueryAttention  # the name Keras files record


def register(cls):
    """Make a Layer subclass known to `deserialize` (and so to model loading) by its class name."""
    _registry.classes[cls.__name__] = cls
    return cls


def serialize(layer):
    """`{"class_name": ..., "config": layer.get_config()}`."""
    return _registry.serialize(layer)


def deserialize(config, custom_objects=None):
    """Build a layer from `serialize`'s output; only known layer classes (and `custom_objects`) can be named."""
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(dict(config.get("config") or {}))
    return _registry.deserialize(config)
