"""Host arrays reach the device whole and unchanged, whatever the chunking of the staged copy."""
import pytest
import torch

from deepglass.training.host_to_device import CHUNK_BYTES, SMALLEST, Staging, to_device


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8, torch.float16, torch.bool])
@pytest.mark.parametrize("chunk_bytes", [8, 24, 1000, 10 ** 6])
def test_a_staged_copy_equals_its_source(dtype, chunk_bytes):
    staging = Staging(chunk_bytes, pin=False)
    for rows in (37, 5):  # the same buffers serve a second copy, of another size
        source = (torch.randn(rows, 5, 3) * 100).to(dtype)
        target = torch.empty_like(source)
        staging.copy(source, target)
        assert torch.equal(target, source)


def test_a_non_contiguous_source_is_copied_in_its_logical_order():
    source = torch.arange(60.0).reshape(6, 10).t()  # a transposed view
    target = torch.empty(source.shape)
    Staging(28, pin=False).copy(source, target)
    assert torch.equal(target, source)


def test_on_the_cpu_the_tensor_stays_as_it_is():
    tensor = torch.zeros(SMALLEST // 4 + 1)
    assert to_device(tensor, "cpu") is tensor


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_arrays_reach_the_gpu_unchanged_and_the_source_may_change_at_once():
    for dtype in (torch.float32, torch.int64, torch.float16):
        source = (torch.randn(5 * CHUNK_BYTES // 8 + 7) * 50).to(dtype)  # several staging chunks
        expected = source.clone()
        target = to_device(source, "cuda")
        source.zero_()
        assert target.is_cuda and torch.equal(target.cpu(), expected)
    for small in (torch.randn(10), torch.arange(SMALLEST // 8 - 1), torch.randn(10).pin_memory()):
        expected = small.clone()
        target = to_device(small, "cuda")
        small.zero_()
        assert torch.equal(target.cpu(), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_small_array_is_queued_without_waiting_for_the_gpu():
    busy = torch.randn(4096, 4096, device="cuda")
    torch.cuda.synchronize()
    for _ in range(20):  # about 50 ms of work queued ahead of the copy
        busy = busy @ busy / 64
    labels = to_device(torch.arange(4096), "cuda")
    assert not torch.cuda.current_stream().query()  # the host did not wait: the matrix products are still running
    assert torch.equal(labels.cpu(), torch.arange(4096))
