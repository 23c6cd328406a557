"""Convolution kernels are stored with exactly the strides torch gives their gradients (also along axes of size 1:
one input channel, one filter, a 1x1 kernel), so that DistributedDataParallel, which compares every stride, neither
warns "Grad strides do not match bucket view strides" nor copies gradients to match; Keras's layouts and values are
unchanged."""
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import deepglass
from deepglass import layers
from tests.distributed.launching import free_port

CASES = {
    "conv2d": (lambda: layers.Conv2D(4, 3), (6, 6)),
    "conv2d_1x1": (lambda: layers.Conv2D(4, 1), (6, 6)),
    "conv2d_one_filter": (lambda: layers.Conv2D(1, 3), (6, 6)),
    "conv2d_channels_first": (lambda: layers.Conv2D(4, 1, data_format="channels_first"), (6, 6)),
    "conv1d": (lambda: layers.Conv1D(4, 3), (6,)),
    "conv1d_1x1": (lambda: layers.Conv1D(4, 1), (6,)),
    "conv3d": (lambda: layers.Conv3D(2, 3), (4, 4, 4)),
    "conv2d_transpose_one_filter": (lambda: layers.Conv2DTranspose(1, 3), (6, 6)),
    "depthwise_conv2d": (lambda: layers.DepthwiseConv2D(3), (6, 6)),
    "separable_conv2d": (lambda: layers.SeparableConv2D(4, 3), (6, 6)),
    "separable_conv1d": (lambda: layers.SeparableConv1D(4, 3), (6,)),
}


@pytest.fixture(scope="module")
def one_process_group():
    """A gloo process group of one process, as DistributedDataParallel needs one; every warning shows, also those
    torch gives only once per process (as DDP's stride warning)."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    warn_always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    yield
    torch.set_warn_always(warn_always)
    dist.destroy_process_group()


def model_of(name, channels):
    make, spatial = CASES[name]
    layer = make()
    shape = (channels,) + spatial if getattr(layer, "data_format", None) == "channels_first" else spatial + (channels,)
    return deepglass.Sequential([deepglass.Input(shape), layer]), shape


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", list(CASES))
def test_distributed_data_parallel_finds_the_gradients_strided_as_the_kernels(one_process_group, name, channels):
    model, shape = model_of(name, channels)
    model.set_weights(model.get_weights())  # set_weights keeps the strides too
    x = torch.randn((2,) + shape, device=next(model.parameters()).device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = DistributedDataParallel(model)
        for _ in range(2):
            model.zero_grad(set_to_none=True)
            wrapped(x).square().sum().backward()
    assert not [w for w in caught if "Grad strides do not match" in str(w.message)]
    for weight in model.parameters():
        assert weight.grad.stride() == weight.stride()


@pytest.mark.parametrize("channels", [1, 3])
def test_conv2d_kernels_keep_keras_values_and_torch_channels_last_format(channels):
    """The stored kernel is torch's channels-last format for channels-last data, and holds Keras's kernel."""
    model, shape = model_of("conv2d", channels)
    layer = model.layers[0]
    keras_kernel = np.arange(3 * 3 * channels * 4, dtype="float32").reshape(3, 3, channels, 4)
    layer.set_weights([keras_kernel, np.zeros(4, "float32")])
    np.testing.assert_array_equal(layer.get_weights()[0], keras_kernel)
    assert layer.kernel.stride() == torch.empty(layer.kernel.shape, memory_format=torch.channels_last).stride()
    x = torch.randn((2,) + shape, device=layer.kernel.device)
    kernel = torch.from_numpy(keras_kernel).to(x.device).permute(3, 2, 0, 1)
    expected = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), kernel)
    torch.testing.assert_close(model(x), expected.permute(0, 2, 3, 1))
