"""Whole sequences on torch's fused recurrent kernels (`torch._VF.lstm`, `gru`, `rnn_tanh`, `rnn_relu`), with Keras's
masking semantics kept exactly.

A mask whose kept steps form one run per sequence (right padding, left padding as `pad_sequences` makes by default,
or both) runs fused: the runs are aligned to the left, run to the end of the rows (each sequence's last output read
where it ends), and the outputs put back where Keras's step loop would have them (zeros before the run, the last
output repeated after it, or zeros with `zero_output_for_mask`). The LSTM's final carry state is not an output, so
when it is asked for the sequences are packed (`pack_padded_sequence`) instead. Any other mask returns None and the
caller runs the step loop.
"""
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


class Runs:
    """The run of kept steps of each sequence: `starts` and `lengths` on the mask's device and on the host."""
    __slots__ = ("starts", "lengths", "host_starts", "host_lengths")

    def __init__(self, starts, lengths, host_starts, host_lengths):
        self.starts, self.lengths, self.host_starts, self.host_lengths = starts, lengths, host_starts, host_lengths


def contiguous_runs(mask):
    """`Runs` of a `(batch, time)` boolean mask whose True steps form one run per row (or none), else None.

    Costs one transfer to the host: packing needs the lengths there.
    """
    batch, time = mask.shape
    lengths = mask.sum(1)
    starts = mask.to(torch.uint8).argmax(1)  # the first kept step (0 for a row with none)
    steps = torch.arange(time, device=mask.device)
    run = (steps >= starts[:, None]) & (steps < (starts + lengths)[:, None])
    host = torch.cat([(run == mask).all().view(1).long(), starts, lengths]).cpu()
    if not host[0]:
        return None
    return Runs(starts, lengths, host[1:batch + 1], host[batch + 1:])


def _hidden(states):
    """torch's `hx`: `(h, c)` with a layer axis for the LSTM, `h` with a layer axis for the others."""
    hx = [state.unsqueeze(0) for state in states]
    return tuple(hx) if len(hx) == 2 else hx[0]


def _select(hx, index):
    return tuple(h.index_select(1, index) for h in hx) if isinstance(hx, tuple) else hx.index_select(1, index)


def _along_time(tensor, index):
    return tensor.gather(1, index.unsqueeze(-1).expand(-1, -1, tensor.shape[-1]))


def run_fused(kernel, sequences, states, params, has_biases, mask=None, go_backwards=False,
              zero_output_for_mask=False, return_sequences=True, need_states=True):
    """`(last_output, outputs or None, final_states)` of a one-layer recurrence, or None for a mask that is not one
    run per sequence.

    `kernel` is one of `torch._VF.lstm / gru / rnn_tanh / rnn_relu`; `params` are torch's `[weight_ih, weight_hh,
    bias_ih, bias_hh]`; `states` is `[h, c]` for the LSTM and `[h]` for the others. With a mask and
    `need_states=False` the LSTM's final states are not computed (None is returned for them).
    """
    if go_backwards:
        sequences = sequences.flip(1)
        mask = None if mask is None else mask.flip(1)
    runs = None
    if mask is not None:
        runs = contiguous_runs(mask)
        if runs is None:
            return None
        if int(runs.host_lengths.min()) == mask.shape[1]:
            mask = None  # nothing is masked
    train = torch.is_grad_enabled()  # torch's kernels keep what backward needs only when asked
    if mask is None:
        result = kernel(sequences, _hidden(states), params, has_biases, 1, 0.0, train, False, True)
        finals = [final[0] for final in result[1:]]
        return finals[0], (result[0] if return_sequences else None), finals
    return _run_masked(kernel, sequences, states, params, has_biases, mask, runs, zero_output_for_mask,
                       return_sequences, need_states, train)


def _run_masked(kernel, sequences, states, params, has_biases, mask, runs, zero_output_for_mask, return_sequences,
                need_states, train):
    time = sequences.shape[1]
    steps = torch.arange(time, device=sequences.device)
    shifted = bool(runs.host_starts.any())
    if shifted:  # move each run to the start of its row
        sequences = _along_time(sequences, (runs.starts[:, None] + steps).clamp(max=time - 1))
    kept = mask.any(1, keepdim=True)  # a sequence with no kept step keeps its initial states
    if len(states) == 2 and need_states:
        # The LSTM's final carry is not an output: only the packed kernel stops each sequence at its end.
        outputs, last_kept, finals = _run_packed(kernel, sequences, states, params, has_biases, runs, kept, train)
    else:
        # Run every row to the end (the fused kernel on CPU is several times faster unpacked) and read each
        # sequence's last output, which for one-state cells is its final state.
        outputs = kernel(sequences, _hidden(states), params, has_biases, 1, 0.0, train, False, True)[0]
        last = (runs.lengths - 1).clamp(min=0)[:, None]
        last_kept = torch.where(kept, _along_time(outputs, last)[:, 0], 0)
        finals = None if len(states) == 2 else [torch.where(kept, last_kept, states[0])]
    last_output = torch.where(mask[:, -1:], last_kept, 0) if zero_output_for_mask else last_kept
    if not return_sequences:
        return last_output, None, finals
    if shifted:
        outputs = _along_time(outputs, (steps - runs.starts[:, None]).clamp(min=0))
    if zero_output_for_mask:
        fill = torch.zeros((), dtype=outputs.dtype, device=outputs.device)
    else:  # after the run Keras repeats the last output; before it, the previous output is still zero
        after = (steps >= (runs.starts + runs.lengths)[:, None]).unsqueeze(-1)
        fill = torch.where(after, last_kept.unsqueeze(1), 0)
    return last_output, torch.where(mask.unsqueeze(-1), outputs, fill), finals


def _run_packed(kernel, sequences, states, params, has_biases, runs, kept, train):
    """Outputs aligned to the left, the last kept output and the final states, each sequence stopped at its end."""
    packed = pack_padded_sequence(sequences, runs.host_lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
    result = kernel(packed.data, packed.batch_sizes, _select(_hidden(states), packed.sorted_indices), params,
                    has_biases, 1, 0.0, train, False)
    finals = [torch.where(kept, final.index_select(1, packed.unsorted_indices)[0], state)
              for final, state in zip(result[1:], states)]
    outputs, _ = pad_packed_sequence(PackedSequence(result[0], packed.batch_sizes, packed.sorted_indices,
                                                    packed.unsorted_indices), batch_first=True,
                                     total_length=sequences.shape[1])
    return outputs, torch.where(kept, finals[0], 0), finals
