"""ResNet-8 for 32x32 images, written twice: as a Keras-API functional model and as a PyTorch module.

A 3x3 stem convolution with 16 filters, then three stages of one residual block each (16, 32 and 64 filters,
stride 2 between stages, a 1x1 projection on the shortcut where the shape changes), global average pooling and a
Dense classifier. Convolutions have no bias (batch normalisation follows each); the PyTorch batch normalisation
uses Keras's epsilon and momentum so that both networks compute the same thing.
"""
import torch.nn.functional as F
from torch import nn

STAGES = ((16, 1), (32, 2), (64, 2))  # (filters, stride) of each stage's block


def keras_resnet8(lib, input_shape, classes=10):
    """ResNet-8 in a Keras-API library (`deepglass` or `keras`), with `Add` layers joining the shortcuts."""
    layers = lib.layers

    def conv_bn(x, filters, kernel, strides=1, relu=True):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x) if relu else x

    inputs = lib.Input(input_shape)
    x, channels = conv_bn(inputs, 16, 3), 16
    for filters, strides in STAGES:
        shortcut = x if strides == 1 and filters == channels else conv_bn(x, filters, 1, strides, relu=False)
        y = conv_bn(conv_bn(x, filters, 3, strides), filters, 3, relu=False)
        x, channels = layers.Activation("relu")(layers.Add()([shortcut, y])), filters
    x = layers.GlobalAveragePooling2D()(x)
    return lib.Model(inputs, layers.Dense(classes, activation="softmax")(x))


def _batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # Keras's defaults (momentum 0.99 of the old value)


class Block(nn.Module):
    """Two 3x3 convolutions with batch normalisation, added to the (projected) input."""

    def __init__(self, channels_in, channels_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = _batch_norm(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = _batch_norm(channels_out)
        self.shortcut = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                                          _batch_norm(channels_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.shortcut(x) + self.bn2(self.conv2(y)))


def torch_resnet8(channels_in=3, classes=10):
    """ResNet-8 as PyTorch code writes it: channels-first, ending in logits."""
    blocks, channels = [], 16
    for filters, stride in STAGES:
        blocks.append(Block(channels, filters, stride))
        channels = filters
    return nn.Sequential(nn.Conv2d(channels_in, 16, 3, 1, 1, bias=False), _batch_norm(16), nn.ReLU(), *blocks,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))
