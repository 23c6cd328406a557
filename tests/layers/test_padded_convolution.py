"""Convolutions with Keras's uneven padding: off the CPU their backward pass pads the input again instead of keeping
the padded copy. The recomputing path is forced here (on the CPU, which keeps the copy by default) and checked
against the copying one: the same outputs and gradients, bit for bit, no copy alive between the passes, and a clear
error when the input changed in between."""
import weakref

import pytest
import torch

from deepglass.layers import Conv1D, Conv2D, Conv3D, DepthwiseConv2D, SeparableConv2D
from deepglass.layers import padded_convolution

UNEVEN = [  # (layer, input shape): each pads one side more than the other
    (lambda: Conv1D(4, 3, strides=2, padding="same", bias_initializer="random_normal"), (3, 10, 2)),
    (lambda: Conv1D(4, 2, padding="causal", dilation_rate=2), (3, 9, 2)),
    (lambda: Conv2D(5, 3, strides=2, padding="same", bias_initializer="random_normal"), (2, 8, 6, 3)),
    (lambda: Conv2D(5, (2, 3), padding="same", data_format="channels_first"), (2, 3, 7, 6)),
    (lambda: Conv3D(3, 2, strides=2, padding="same"), (1, 4, 6, 4, 2)),
    (lambda: DepthwiseConv2D(3, strides=2, padding="same"), (2, 8, 8, 3)),
    (lambda: SeparableConv2D(4, 2, padding="same"), (2, 7, 7, 3)),
]


@pytest.fixture
def recomputing(monkeypatch):
    """Make the CPU pad again in the backward pass, as accelerators do."""
    monkeypatch.setattr(padded_convolution, "KEEPS_COPY_ON", ())


@pytest.fixture
def pad_outputs(monkeypatch):
    """Weak references to every tensor `F.pad` makes for a padded convolution."""
    made, pad = [], padded_convolution.F.pad

    def recording_pad(*args, **kwargs):
        out = pad(*args, **kwargs)
        made.append(weakref.ref(out))
        return out
    monkeypatch.setattr(padded_convolution.F, "pad", recording_pad)
    return made


def outputs_and_gradients(make, shape, create_graph=False):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(shape, requires_grad=True)
    y = layer(x)
    weights = [w for w in layer.parameters()]
    grads = torch.autograd.grad((y * torch.linspace(-1, 1, y.numel()).view(y.shape)).sum(), [x] + weights,
                                create_graph=create_graph)
    return y.detach(), grads, x, weights


@pytest.mark.parametrize("make,shape", UNEVEN)
def test_padding_again_gives_the_same_outputs_and_gradients(make, shape, monkeypatch):
    y_kept, grads_kept, *_ = outputs_and_gradients(make, shape)
    monkeypatch.setattr(padded_convolution, "KEEPS_COPY_ON", ())
    y, grads, *_ = outputs_and_gradients(make, shape)
    assert torch.equal(y, y_kept)
    assert all(torch.equal(g, k) for g, k in zip(grads, grads_kept))


def test_second_derivatives_are_those_of_the_copying_path(monkeypatch):
    def second(make, shape):
        _, (x_grad, kernel_grad, _), x, (kernel, _) = outputs_and_gradients(make, shape, create_graph=True)
        return torch.autograd.grad((x_grad ** 2).sum() + (kernel_grad ** 2).sum(), [x, kernel])
    make, shape = UNEVEN[2]
    kept = second(make, shape)
    monkeypatch.setattr(padded_convolution, "KEEPS_COPY_ON", ())
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(second(make, shape), kept))


def padded_copies_alive_after_the_forward_pass(pad_outputs):
    layer = Conv2D(4, 3, strides=2, padding="same")
    y = layer(torch.randn(2, 8, 8, 3, requires_grad=True))
    alive = sum(ref() is not None for ref in pad_outputs)
    y.sum().backward()  # the graph still works
    assert layer.kernel.grad is not None and len(pad_outputs) >= 1
    return alive


def test_the_padded_copy_is_freed_after_the_forward_pass(recomputing, pad_outputs):
    assert padded_copies_alive_after_the_forward_pass(pad_outputs) == 0


def test_the_cpu_keeps_the_padded_copy_for_the_backward_pass(pad_outputs):
    assert padded_copies_alive_after_the_forward_pass(pad_outputs) == 1


def test_an_input_changed_in_place_before_the_backward_pass_is_an_error(recomputing):
    x = torch.randn(2, 8, 8, 3)
    h = x.clone().requires_grad_()
    inputs = h * 1  # a non-leaf, so that it may be changed in place
    y = Conv2D(4, 3, strides=2, padding="same")(inputs)
    inputs.detach().add_(1)  # a change autograd's version counter sees
    with pytest.raises(RuntimeError, match="modified in place after the convolution"):
        y.sum().backward()


def test_without_gradients_no_hook_is_installed(recomputing, monkeypatch):
    installed = []
    hooks = torch.autograd.graph.saved_tensors_hooks
    monkeypatch.setattr(padded_convolution.torch.autograd.graph, "saved_tensors_hooks",
                        lambda *a: installed.append(a) or hooks(*a))
    layer = Conv2D(4, 3, strides=2, padding="same")
    with torch.no_grad():
        layer(torch.randn(2, 8, 8, 3))
    assert installed == []
    layer(torch.randn(2, 8, 8, 3))
    assert len(installed) == 1
