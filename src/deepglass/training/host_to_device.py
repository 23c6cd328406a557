"""In-memory arrays to a GPU through pinned staging buffers.

CUDA copies ordinary (pageable) host memory through a small staging buffer of its own, at a fraction of what the
bus carries: about 7 GB/s on an H200 host. Copied first into page-locked ("pinned") memory, which torch writes with
all its threads, the same data crosses at the bus's speed. `fit`, `evaluate` and `predict` copy their NumPy arrays to
the device at every call, so this is part of each call's time.
"""
import torch

CHUNK_BYTES = 8 * 2 ** 20  # the size of each of the two staging buffers, which torch's host allocator keeps for reuse
SMALLEST = 2 * 2 ** 20  # below this a plain copy takes no longer


def to_device(tensor, device):
    """`tensor.to(device)`; a large host tensor bound for a GPU goes through pinned buffers (see `staged_copy`). The
    copy may still be under way when this returns: work queued on the device after it waits for it, as after any
    non-blocking copy, and `tensor` itself may be changed at once."""
    device = torch.device(device)
    if device.type != "cuda" or tensor.device.type != "cpu" or tensor.nbytes < SMALLEST:
        return tensor.to(device)
    target = torch.empty(tensor.shape, dtype=tensor.dtype, device=device)
    try:
        staged_copy(tensor, target, pin=True)
    except RuntimeError:  # no page-locked memory to be had (a container's limit, say): the plain copy
        return tensor.to(device)
    return target


def staged_copy(source, target, pin, chunk_bytes=CHUNK_BYTES):
    """Copy `source` into the contiguous `target` of the same shape and dtype through two staging buffers in turn:
    while one chunk travels from its buffer, the next is written into the other. Copies out of pinned buffers into a
    GPU are asynchronous; a buffer is written again only once its last copy has finished."""
    flat_source, flat_target = source.reshape(-1), target.view(-1)
    step = max(1, chunk_bytes // source.element_size())
    size = min(step, flat_source.numel())
    buffers = [torch.empty(size, dtype=source.dtype, pin_memory=pin) for _ in range(2)]
    copied = [None, None]  # per buffer, a CUDA event recorded after its last copy (None on other devices)
    stream = torch.cuda.current_stream(target.device) if target.is_cuda else None
    for index, start in enumerate(range(0, flat_source.numel(), step)):
        slot = index % 2
        if copied[slot] is not None:
            copied[slot].synchronize()
        part = flat_source[start:start + step]
        buffer = buffers[slot][:part.numel()]
        buffer.copy_(part)
        flat_target[start:start + part.numel()].copy_(buffer, non_blocking=True)
        if stream is not None:
            copied[slot] = stream.record_event()
