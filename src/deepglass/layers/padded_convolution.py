"""A convolution of a zero-padded input that keeps the input, not its padded copy, for the backward pass.

Keras pads unevenly where torch's convolutions cannot ("same" with strides on even sizes, causal, even kernels), so
such a convolution first makes a padded copy with `F.pad`. torch's convolution saves its input for the kernel's
gradient, which would keep that copy alive until the backward pass: a second copy of the activation, next to the
unpadded input, which usually stays alive anyway (a ReLU before the convolution keeps it for its own gradient).
Saving the unpadded input instead and padding it again in the backward pass costs one pad kernel there and holds no
extra memory between the passes.

That trade is made on accelerators, where the pad takes microseconds and the copy is scarce device memory (the two
stride-2 convolutions of a ResNet-8 on 32x32 images at batch 128: 13 MB of a 100 MB step). On the CPU the copy is
ordinary memory and padding again costs about 3% of that step (2.4 ms), so there the copy is kept.
"""
import torch
import torch.nn.functional as F

KEEPS_COPY_ON = ("cpu",)  # the device types whose convolutions keep the padded copy


class _Repad:
    """What is saved in place of the padded copy: the unpadded input, the pad amounts, and the input's version."""

    __slots__ = ("inputs", "pads", "version")

    def __init__(self, inputs, pads):
        self.inputs, self.pads, self.version = inputs, pads, inputs._version

    def padded(self):
        if self.inputs._version != self.version:  # what autograd's own saved tensors check
            raise RuntimeError("The input of a padded convolution was modified in place after the convolution used "
                               f"it (version {self.inputs._version}, expected {self.version}), so its gradient can "
                               "no longer be computed: use an out-of-place operation.")
        return F.pad(self.inputs, self.pads)


def _unpack(saved):
    return saved.padded() if isinstance(saved, _Repad) else saved


def convolve_padded(conv, inputs, pads, *arguments):
    """`conv(F.pad(inputs, pads), *arguments)`, whose backward pass pads `inputs` again instead of keeping the copy.

    On the CPU (see the module's docstring), under torch.compile, which decides itself what to keep for the
    backward pass, and without gradients, it is the plain call."""
    padded = F.pad(inputs, pads)
    if inputs.device.type in KEEPS_COPY_ON or not torch.is_grad_enabled() or torch.compiler.is_compiling():
        return conv(padded, *arguments)

    copy = padded.data_ptr(), padded.shape  # not `padded` itself: the graph keeps this hook, and so its closure

    def pack(tensor):
        return _Repad(inputs, pads) if (tensor.data_ptr(), tensor.shape) == copy else tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, _unpack):
        return conv(padded, *arguments)
