"""Host arrays reach the device whole and unchanged, whatever the chunking of the staged copy."""
import pytest
import torch

from deepglass.training.host_to_device import CHUNK_BYTES, SMALLEST, staged_copy, to_device


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8, torch.float16, torch.bool])
@pytest.mark.parametrize("chunk_bytes", [1, 24, 1000, 10 ** 9])
def test_a_staged_copy_equals_its_source(dtype, chunk_bytes):
    source = (torch.randn(37, 5, 3) * 100).to(dtype)
    target = torch.empty_like(source)
    staged_copy(source, target, pin=False, chunk_bytes=chunk_bytes)
    assert torch.equal(target, source)


def test_a_non_contiguous_source_is_copied_in_its_logical_order():
    source = torch.arange(60.0).reshape(6, 10).t()  # a transposed view
    target = torch.empty(source.shape)
    staged_copy(source, target, pin=False, chunk_bytes=28)
    assert torch.equal(target, source)


def test_on_the_cpu_the_tensor_stays_as_it_is():
    tensor = torch.zeros(SMALLEST // 4 + 1)
    assert to_device(tensor, "cpu") is tensor


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_large_array_reaches_the_gpu_unchanged_and_the_source_may_change_at_once():
    source = torch.randn(5 * CHUNK_BYTES // 8 + 7)  # two and a half staging chunks of float32
    expected = source.clone()
    target = to_device(source, "cuda")
    source.zero_()
    assert target.is_cuda and torch.equal(target.cpu(), expected)
    small = torch.randn(10)
    assert torch.equal(to_device(small, "cuda").cpu(), small)
