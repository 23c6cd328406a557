"""FullyShardedDataParallel: two CPU processes (gloo) sharding the weights train as one process does.

One launch runs worker.py's `fully_sharded` scenario (FSDP training, a second fit, evaluate, predict, save,
summary; ZeRO-2 with larger units beside DataParallel; refusals); the single-process references run here.
"""
import json

import numpy as np
import pytest

import deepglass as keras
from tests.distributed import cases
from tests.distributed.launching import launch

TOLERANCE = 1e-6  # float sums in another order over three epochs (measured: 7.5e-8 in the weights)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    out = tmp_path_factory.mktemp("fully_sharded")
    outcomes = launch("fully_sharded", out)
    assert all(code == 0 for code, _ in outcomes), "\n".join(error[-3000:] for _, error in outcomes)
    ranks = []
    for rank in (0, 1):
        with open(out / f"fully_sharded.{rank}.json") as file:
            ranks.append((json.load(file), dict(np.load(out / f"fully_sharded.{rank}.npz"))))
    return out, ranks


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single_fsdp")
    keras.clear_session()  # names counted from zero, as in the fresh worker processes (the summaries hold them)
    model, history, evaluation, predictions = cases.fit_arrays()
    model.save(out / "model.keras")
    lines = []
    model.summary(print_fn=lines.append)
    trained = {"weights": model.get_weights(), "history": history, "evaluation": evaluation,
               "predictions": predictions, "summary": lines, "file": out / "model.keras"}
    trained["again"] = cases.fit_again(model)
    trained["again_weights"] = model.get_weights()
    return trained


def _weights(arrays, prefix):
    return [arrays[f"{prefix}{i}"] for i in range(sum(k.startswith(prefix) for k in arrays))]


def _max_difference(first, second):
    assert len(first) == len(second)
    return max(float(np.abs(a - b).max()) for a, b in zip(first, second))


def test_two_sharded_processes_reach_the_weights_of_one_and_of_data_parallel(sharded, single):
    _, ((_, rank0), (_, rank1)) = sharded
    weights = _weights(rank0, "fsdp")
    assert _max_difference(weights, _weights(rank1, "fsdp")) == 0  # gathered into one model on every process
    assert _max_difference(weights, single["weights"]) < TOLERANCE
    assert _max_difference(weights, _weights(rank0, "dp")) < TOLERANCE


def test_metrics_evaluate_and_predict_equal_one_process(sharded, single):
    _, ((found0, rank0), (found1, rank1)) = sharded
    assert found0["history"] == found1["history"] and found0["evaluation"] == found1["evaluation"]
    for name, values in single["history"].items():  # loss, accuracy, weighted accuracy, val_*
        np.testing.assert_allclose(found0["history"][name], values, rtol=1e-5, err_msg=name)
    for name, value in single["evaluation"].items():
        np.testing.assert_allclose(found0["evaluation"][name], value, rtol=1e-5, err_msg=name)
    np.testing.assert_array_equal(rank0["predictions"], rank1["predictions"])
    np.testing.assert_allclose(rank0["predictions"], single["predictions"], atol=TOLERANCE)


def test_a_second_fit_continues_with_the_optimizer_state(sharded, single):
    _, ((found, rank0), _) = sharded
    assert _max_difference(_weights(rank0, "again"), single["again_weights"]) < TOLERANCE
    np.testing.assert_allclose(found["again"]["loss"], single["again"]["loss"], rtol=1e-5)


def test_the_model_is_plain_after_fit_and_saves_as_one_process(sharded, single):
    out, ((found, _), _) = sharded
    assert found["classes"] == ["Sequential", "InputLayer", "Dense", "Dense"] + ["Parameter"] * 4
    assert found["summary"] == single["summary"]  # optimizer state included: gathered whole
    saved, alone = keras.saving.load_model(out / "model.keras"), keras.saving.load_model(single["file"])
    assert _max_difference(saved.get_weights(), alone.get_weights()) < TOLERANCE
    assert saved.optimizer.iterations == alone.optimizer.iterations
    states = [v.numpy() for v in saved.optimizer.variables], [v.numpy() for v in alone.optimizer.variables]
    assert _max_difference(*states) < 1e-5  # Adam's moments, gathered from the shards
    checkpoint = keras.saving.load_model(out / "checkpoint.0.keras")  # written by rank 0 alone at an epoch's end
    assert not (out / "checkpoint.1.keras").exists()
    assert _max_difference(checkpoint.get_weights(), alone.get_weights()) < TOLERANCE


def test_zero2_with_larger_units_and_buffers_trains_as_data_parallel(sharded):
    """reshard_after_forward=False, min_weights_per_unit=50: the convolution (its kernel stored channels-last, which
    FSDP cannot shard as it is) and the BatchNormalization layer join the model's unit; the moving statistics
    (buffers) are rank 0's, as under DataParallel."""
    _, ((found, rank0), (_, rank1)) = sharded
    assert _max_difference(_weights(rank0, "zero2"), _weights(rank1, "zero2")) == 0
    assert _max_difference(_weights(rank0, "zero2"), _weights(rank0, "batchnorm_dp")) < TOLERANCE
    after_fsdp, after_data_parallel = found["strides"]
    assert after_fsdp == after_data_parallel and [4, 1, 2, 2] in after_fsdp  # the kernel's own strides, given back


@pytest.mark.parametrize("case, expected", [
    ("mixed_float16", "ValueError: Rank {rank}: FullyShardedDataParallel does not support loss scaling"),
    ("train_on_batch", "RuntimeError: train_on_batch() trains one process alone"),
    ("constraint", "ValueError: Rank {rank}: FullyShardedDataParallel does not support weight constraints"),
    ("mid_epoch_backup", "ValueError: Rank {rank}: FullyShardedDataParallel backs up at the end of epochs only"),
])
def test_what_fsdp_cannot_do_fails_before_training_naming_the_rank(sharded, case, expected):
    _, outcomes = sharded
    for rank, (found, _) in enumerate(outcomes):
        error = found["errors"][case]
        assert error is not None and error.startswith(expected.format(rank=rank)), error


def test_arguments_config_and_set_distribution():
    fsdp = keras.distribution.FullyShardedDataParallel(reshard_after_forward=False, min_weights_per_unit=1000)
    config = fsdp.get_config()
    assert config["reshard_after_forward"] is False and config["min_weights_per_unit"] == 1000
    assert keras.distribution.FullyShardedDataParallel.from_config(config).get_config() == config
    assert repr(fsdp).startswith("<FullyShardedDataParallel processes=1, rank=0")
    with fsdp.scope():
        assert keras.distribution.distribution() is fsdp
    with pytest.raises(ValueError, match="expected an integer >= 0. Received: min_weights_per_unit=-1"):
        keras.distribution.FullyShardedDataParallel(min_weights_per_unit=-1)


def test_one_process_with_fsdp_trains_as_without_it():
    x, y, _ = cases.arrays()
    alone = cases.model()
    alone.fit(x, y, batch_size=cases.BATCH, epochs=1, verbose=0)
    with keras.distribution.FullyShardedDataParallel().scope():
        under = cases.model()
        under.fit(x, y, batch_size=cases.BATCH, epochs=1, verbose=0)
    assert _max_difference(under.get_weights(), alone.get_weights()) == 0
