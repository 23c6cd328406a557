"""Two CPU processes (gloo) training together give what one process gives with the same global batch.

Each launch starts two interpreters (a few seconds each on two cores), so the runs are module fixtures shared by
the tests that read them; the single-process references run here, in the test process.
"""
import csv
import json
import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import deepglass as keras
from deepglass.training.data_adapters import adapt
from tests.distributed import cases
from tests.distributed.launching import ROOT, launch, torchrun

TOLERANCE = 1e-6  # float sums in another order over three epochs (measured: below 1e-7)


@pytest.fixture(scope="module")
def together(tmp_path_factory):
    """One launch of two processes (joined with Keras's initialize()) for the equivalence, coverage and bad-input
    scenarios of worker.py: starting the interpreters is most of the time."""
    out = tmp_path_factory.mktemp("together")
    outcomes = launch("together", out)
    assert all(code == 0 for code, _ in outcomes), "\n".join(error[-3000:] for _, error in outcomes)
    return out


def _run(out, scenario):
    return out, [_results(out, scenario, rank) for rank in (0, 1)]


def _results(out, scenario, rank):
    with open(out / f"{scenario}.{rank}.json") as file:
        found = json.load(file)
    return found, dict(np.load(out / f"{scenario}.{rank}.npz"))


def _weights(arrays, prefix):
    return [arrays[f"{prefix}{i}"] for i in range(sum(k.startswith(prefix) for k in arrays))]


def _max_difference(first, second):
    assert len(first) == len(second)
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


@pytest.fixture(scope="module")
def equivalence(together):
    return _run(together, "equivalence")


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One process: the same cases, with the same callbacks writing to a folder of its own."""
    out = tmp_path_factory.mktemp("single")
    keras.clear_session()  # names counted from zero, as in the fresh worker processes (the saved configs hold them)
    model, history, evaluation, predictions = cases.fit_arrays([keras.callbacks.CSVLogger(out / "log.csv")])
    model.save(out / "model.keras")
    torch_data = {kind: cases.fit_torch_data(kind) for kind in ("dataset", "loader")}
    return {"out": out, "model": model, "history": history, "evaluation": evaluation, "predictions": predictions,
            "torch_data": torch_data}


def test_two_processes_reach_the_weights_of_one(equivalence, single):
    _, ((_, rank0), (_, rank1)) = equivalence
    distributed = _weights(rank0, "arrays")
    assert _max_difference(distributed, _weights(rank1, "arrays")) == 0  # the processes hold one model
    assert _max_difference(distributed, single["model"].get_weights()) < TOLERANCE


def test_metrics_are_global_and_equal_to_one_process(equivalence, single):
    _, ((found0, _), (found1, _)) = equivalence
    assert found0 == found1  # every process reports the same (global) numbers
    for name, values in single["history"].items():  # loss, accuracy, weighted accuracy, val_*
        np.testing.assert_allclose(found0["history"][name], values, rtol=1e-5, err_msg=name)
    for name, value in single["evaluation"].items():
        np.testing.assert_allclose(found0["evaluation"][name], value, rtol=1e-5, err_msg=name)


def test_predict_returns_every_sample_in_order_on_every_process(equivalence, single):
    _, ((_, rank0), (_, rank1)) = equivalence
    assert rank0["predictions"].shape == single["predictions"].shape
    np.testing.assert_array_equal(rank0["predictions"], rank1["predictions"])
    np.testing.assert_allclose(rank0["predictions"], single["predictions"], atol=TOLERANCE)


@pytest.mark.parametrize("kind", ["dataset", "loader"])
def test_torch_datasets_and_dataloaders_train_like_one_process(equivalence, single, kind):
    _, ((found, rank0), _) = equivalence
    model, history = single["torch_data"][kind]
    assert _max_difference(_weights(rank0, kind), model.get_weights()) < TOLERANCE
    np.testing.assert_allclose(found[f"{kind}_history"]["loss"], history["loss"], rtol=1e-5)


def test_only_rank_zero_writes_files(equivalence, single):
    out, _ = equivalence
    assert (out / "log.0.csv").exists() and not (out / "log.1.csv").exists()
    assert (out / "checkpoint.0.keras").exists() and not (out / "checkpoint.1.keras").exists()
    assert (out / "tensorboard.0").is_dir() and not (out / "tensorboard.1").exists()
    with open(out / "log.0.csv") as written, open(single["out"] / "log.csv") as expected:
        rows, expected_rows = list(csv.DictReader(written)), list(csv.DictReader(expected))
    assert [row.keys() for row in rows] == [row.keys() for row in expected_rows]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], [float(r["loss"]) for r in expected_rows], rtol=1e-5)


def test_saved_model_loads_and_equals_the_single_process_one(equivalence, single):
    out, _ = equivalence
    distributed, alone = keras.saving.load_model(out / "model.keras"), keras.saving.load_model(single["out"] /
                                                                                             "model.keras")
    assert [type(layer).__name__ for layer in distributed.layers] == [type(layer).__name__ for layer in alone.layers]
    assert distributed.optimizer.get_config() == alone.optimizer.get_config()
    assert _max_difference(distributed.get_weights(), alone.get_weights()) < TOLERANCE
    checkpoint = keras.saving.load_model(out / "checkpoint.0.keras")
    assert _max_difference(checkpoint.get_weights(), alone.get_weights()) < TOLERANCE


@pytest.mark.filterwarnings("ignore:The dtype policy computes in float16")  # emulated float16 on this CPU
def test_mixed_float16_processes_scale_the_loss_and_skip_the_same_steps(together):
    """Both processes scale their losses, skip the same overflowing steps (the scale falls from 2^20) and reach the
    weights of one process, to float16's precision: each process rounds its own share's float16 products (measured:
    5e-5 in the weights, 1e-5 relative in the losses)."""
    _, ((found0, rank0), (found1, rank1)) = _run(together, "mixed_precision")
    model, history = cases.fit_mixed_float16()
    assert _max_difference(_weights(rank0, "mixed"), _weights(rank1, "mixed")) == 0
    assert found0["scale"] == found1["scale"] == float(model.optimizer.dynamic_scale) < 2.0 ** 20
    assert _max_difference(_weights(rank0, "mixed"), model.get_weights()) < 1e-3
    np.testing.assert_allclose(found0["history"]["loss"], history["loss"], rtol=1e-4)


@pytest.fixture(scope="module")
def coverage(together):
    return _run(together, "coverage")


def _single_order(make):
    """One process's batches of the sample ids over two epochs, after the seed the workers use."""
    keras.utils.set_random_seed(5)
    data = make()
    return [[batch[0][:, 0].tolist() for batch in data.batches()] for _ in range(2)]


def test_each_global_batch_is_split_rank_strided_in_one_process_order(coverage):
    _, ((seen0, _), (seen1, _)) = coverage
    ids = np.arange(23, dtype="float32")[:, None]
    loader = lambda: DataLoader(TensorDataset(torch.from_numpy(ids), torch.from_numpy(ids)), batch_size=4,  # noqa
                                shuffle=True)
    expected = {"arrays": _single_order(lambda: adapt(ids, ids, batch_size=4, shuffle=True)),
                "loader": _single_order(lambda: adapt(loader()))}
    for name, epochs in expected.items():
        for epoch, batches in enumerate(epochs):
            assert seen0[name][epoch] == [batch[0::2] for batch in batches], name
            # The last global batch holds 3 samples: 2 for rank 0, 1 for rank 1.
            assert seen1[name][epoch] == [batch[1::2] for batch in batches], name
            assert sorted(sum(seen0[name][epoch] + seen1[name][epoch], [])) == list(range(23))


def test_evaluation_shares_cover_every_sample_once(coverage):
    _, ((seen0, _), (seen1, _)) = coverage
    assert sorted(sum(seen0["arrays_evaluation"] + seen1["arrays_evaluation"], [])) == list(range(23))


def test_dealt_out_batches_cover_every_batch_once_and_ranks_agree(coverage):
    _, ((seen0, arrays0), (seen1, arrays1)) = coverage
    for epoch in range(2):
        assert sorted(seen0["pydataset"][epoch] + seen1["pydataset"][epoch]) == list(range(7))
    assert seen0["pydataset_prepared"] == sum(seen0["pydataset"], [])  # each process prepares its batches only
    assert seen1["pydataset_prepared"] == sum(seen1["pydataset"], [])
    # Training on 7 dealt-out batches: rank 1 runs out first and joins the last step with an empty share.
    for prefix in ("pydataset", "generator"):
        assert _max_difference(_weights(arrays0, prefix), _weights(arrays1, prefix)) == 0


def test_processes_with_their_own_data_train_on_the_union_of_their_batches(coverage):
    _, ((seen0, arrays0), (seen1, arrays1)) = coverage
    x, y, _ = cases.arrays()
    parts = [(x[:60], y[:60]), (x[60:], y[60:])]  # rank 0's 12 batches of 5, rank 1's 11 (the last of 4)

    def union_of_steps():
        for start in range(0, 60, 5):
            steps = [(a[start:start + 5], b[start:start + 5]) for a, b in parts if start < len(a)]
            yield np.concatenate([a for a, _ in steps]), np.concatenate([b for _, b in steps])

    alone = cases.model()
    alone.fit(union_of_steps(), epochs=1, verbose=0)
    assert _max_difference(_weights(arrays0, "own"), alone.get_weights()) < TOLERANCE
    assert _max_difference(_weights(arrays0, "own"), _weights(arrays1, "own")) == 0
    assert seen0["own_evaluation"] == seen1["own_evaluation"]  # over both processes' data
    np.testing.assert_allclose(seen0["own_evaluation"]["loss"], alone.evaluate(x, y, verbose=0, return_dict=True)
                               ["loss"], rtol=1e-5)
    assert (seen0["own_predictions"], seen1["own_predictions"]) == (60, 54)  # each process's own


def test_processes_stop_together_when_one_is_asked_to(coverage):
    _, ((seen0, arrays0), (seen1, arrays1)) = coverage
    assert len(seen0["stopped_after"]) == 1 and seen0["stopped_after"] == seen1["stopped_after"]
    assert _max_difference(_weights(arrays0, "stopped"), _weights(arrays1, "stopped")) == 0


@pytest.fixture(scope="module")
def bad_input(together):
    return _run(together, "bad_input")


def test_keras_initialize_arguments_join_the_processes(bad_input):
    _, outcomes = bad_input
    for rank, (found, _) in enumerate(outcomes):
        assert found["distribution"] == f"<DataParallel processes=2, rank={rank}, device=cpu, backend=gloo>"


@pytest.mark.parametrize("case, expected", [
    ("nccl_without_gpus", "RuntimeError: Rank {rank}: the NCCL backend needs CUDA GPUs"),
    ("devices_for_3_processes", "ValueError: Rank {rank}: DataParallel(devices=['cpu', 'cpu', 'cpu']) lists 3 devices, "
                                "but 2 process(es) run on this machine"),
    ("batch_smaller_than_world", "ValueError: Rank {rank}: batch_size=1 is smaller than the number of processes (2)"),
    ("weights_differ", "ValueError: The model's weights on rank 1 differ from rank 0's before training"),
    ("data_differ", "ValueError: Rank 1 has 100 samples, but rank 0 has 114"),
    ("train_on_batch", "RuntimeError: train_on_batch() trains one process alone"),
])
def test_bad_input_fails_before_training_naming_the_rank(bad_input, case, expected):
    _, outcomes = bad_input
    for rank, (errors, _) in enumerate(outcomes):
        assert errors[case] is not None and errors[case].startswith(expected.format(rank=rank)), errors[case]


def test_processes_launched_with_different_world_sizes_fail_naming_the_rank(tmp_path):
    outcomes = launch("world_mismatch", tmp_path, overrides={1: {"WORLD_SIZE": "3", "LOCAL_WORLD_SIZE": "3"}},
                      timeout=120)
    message = "Rank 1 was launched with WORLD_SIZE=3, but rank 0 with WORLD_SIZE=2"
    for code, error in outcomes:
        assert code != 0 and message in error, error[-2000:]


def test_torchrun_restart_after_a_killed_rank_resumes_bit_for_bit(tmp_path, single):
    completed = torchrun(["--nproc-per-node", "2", "--max-restarts", "1", "--monitor-interval", "0.1",
                          "tests/distributed/worker.py", "elastic", tmp_path], timeout=400)
    assert completed.returncode == 0, completed.stderr[-4000:]
    for rank in (0, 1):
        found, arrays = _results(tmp_path, "elastic", rank)
        assert found == {"restart_count": 1, "backup_left": False}
        resumed = _weights(arrays, "resumed")
        assert _max_difference(resumed, _weights(arrays, "uninterrupted")) == 0
        assert _max_difference(resumed, single["model"].get_weights()) < TOLERANCE


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("flags", [[], ["--fsdp"]], ids=["data_parallel", "fsdp"])
def test_example_gives_the_single_process_weights_under_torchrun(tmp_path, flags):
    import importlib.util
    spec = importlib.util.spec_from_file_location("example", ROOT / "examples" / "distributed_fashion_mnist.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    alone = example.main(quick=True, verbose=0)
    completed = torchrun(["--nproc-per-node", "2", "examples/distributed_fashion_mnist.py", "--quick", "--weights",
                          tmp_path / "weights.npz", *flags])
    assert completed.returncode == 0, completed.stderr[-4000:]
    together = list(np.load(tmp_path / "weights.npz").values())
    assert _max_difference(together, alone) < 1e-6
    assert f"weights checksum: {example.checksum(alone):.4f}" in completed.stdout
