"""The distribution API in one process: launcher variables, DataParallel's checks, sharding arithmetic, loss scaling."""
import contextlib

import numpy as np
import pytest
import torch

import deepglass as keras
from deepglass.callbacks import backup_and_restore
from deepglass.distribution import distribution_lib, sharding, training_run
from deepglass.distribution.launcher import LaunchEnvironment
from deepglass.training.array_data import ArrayData
from tests.distributed import cases
from tests.distributed.launching import free_port

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500", "TORCHELASTIC_RESTART_COUNT": "1", "TORCHELASTIC_USE_AGENT_STORE": "True"}


@pytest.fixture(autouse=True)
def no_distribution():
    """Each test starts and ends with no distribution chosen (as a fresh process does)."""
    saved = dict(distribution_lib._current)
    distribution_lib._current.update(distribution=None, automatic=False)
    yield
    distribution_lib._current.update(saved)


def test_torchrun_variables_are_read():
    environment = LaunchEnvironment.from_environ(TORCHRUN)
    assert (environment.rank, environment.world_size, environment.local_rank, environment.local_world_size) == \
        (1, 2, 1, 2)
    assert (environment.master_addr, environment.master_port) == ("127.0.0.1", 29500)
    assert environment.restart_count == 1 and environment.agent_store
    assert LaunchEnvironment.from_environ({}) == LaunchEnvironment()  # no launcher: a run of one


@pytest.mark.parametrize("variables, message", [
    ({"WORLD_SIZE": "2"}, "The environment sets WORLD_SIZE but not RANK"),
    ({**TORCHRUN, "RANK": "2"}, "Rank 2 does not fit in a run of WORLD_SIZE=2 processes"),
    ({**TORCHRUN, "MASTER_ADDR": ""}, "Rank 1 of 2 does not know where the processes meet"),
    ({**TORCHRUN, "WORLD_SIZE": "two"}, "The environment variable WORLD_SIZE must be an integer"),
    ({**TORCHRUN, "LOCAL_RANK": "2"}, "Rank 1 has LOCAL_RANK=2, which does not fit in LOCAL_WORLD_SIZE=2"),
])
def test_inconsistent_launcher_variables_are_refused_naming_the_rank(variables, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        LaunchEnvironment.from_environ(variables)


def test_keras_initialize_arguments_and_variables():
    environment = LaunchEnvironment.from_arguments("10.0.0.1:1234,10.0.0.2:2345", 2, 1, environ={})
    assert (environment.rank, environment.world_size, environment.master_addr, environment.master_port) == \
        (1, 2, "10.0.0.1", 1234)
    keras_variables = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "host:99", "KERAS_DISTRIBUTION_NUM_PROCESSES": "3",
                       "KERAS_DISTRIBUTION_PROCESS_ID": "2"}
    environment = LaunchEnvironment.from_arguments(None, None, None, environ=keras_variables)
    assert (environment.rank, environment.world_size, environment.master_port) == (2, 3, 99)
    environment = LaunchEnvironment.from_arguments("node0:29500", 8, 5, environ={"LOCAL_RANK": "1",
                                                                               "LOCAL_WORLD_SIZE": "4"})
    assert (environment.rank, environment.local_rank, environment.local_world_size) == (5, 1, 4)
    with pytest.raises(ValueError, match="job_addresses must start with the address of process 0 as `host:port`"):
        LaunchEnvironment.from_arguments("10.0.0.1", 2, 0, environ={})


def test_data_parallel_in_one_process():
    data_parallel = keras.distribution.DataParallel()
    assert (data_parallel.num_processes, data_parallel.process_id, data_parallel.num_model_replicas) == (1, 0, 1)
    assert data_parallel.device == keras.config.device() and data_parallel.backend in ("gloo", "nccl")
    assert data_parallel.device_mesh.axis_names == ["batch"] and data_parallel.batch_dim_name == "batch"
    config = data_parallel.get_config()
    assert keras.distribution.DataParallel.from_config(config).get_config() == config
    assert (keras.distribution.process_id(), keras.distribution.num_processes(), keras.distribution.is_chief()) == \
        (0, 1, True)


def test_one_process_with_data_parallel_trains_as_without_it():
    x, y, _ = cases.arrays()
    plain = cases.model()
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0)
    with keras.distribution.DataParallel().scope():
        assert isinstance(keras.distribution.distribution(), keras.distribution.DataParallel)
        parallel = cases.model()
        parallel.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert keras.distribution.distribution() is None
    for a, b in zip(plain.get_weights(), parallel.get_weights()):
        np.testing.assert_array_equal(a, b)


@contextlib.contextmanager
def distributed_data_parallel_in_one_process(monkeypatch):
    """fit in this process takes the multi-process path (sharding, DistributedDataParallel, summed metrics) through
    a gloo process group of one process, where a run of one process otherwise trains without it; yields the list of
    the ParallelRuns made."""
    runs = []

    def begin(model):
        runs.append(training_run.ParallelRun(keras.distribution.DataParallel(), model))
        return runs[-1]

    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    monkeypatch.setattr(training_run, "begin", begin)
    try:
        yield runs
    finally:
        monkeypatch.undo()
        torch.distributed.destroy_process_group()


@pytest.mark.filterwarnings("ignore:The dtype policy computes in float16")  # emulated float16 on this CPU
def test_mixed_float16_steps_through_distributed_data_parallel_as_in_one_process(monkeypatch):
    """The multi-process step scales the loss and skips non-finite steps as fit's own step does. The first steps
    overflow in float16 and are skipped (the scale falls from 2^20), the later ones update; without loss scaling
    each update would be divided by the scale and barely move the weights."""
    plain, plain_history = cases.fit_mixed_float16()
    initial = cases.mixed_float16_model().get_weights()
    with distributed_data_parallel_in_one_process(monkeypatch) as runs:
        parallel, parallel_history = cases.fit_mixed_float16()
    assert len(runs) == 1
    assert float(parallel.optimizer.dynamic_scale) == float(plain.optimizer.dynamic_scale) < 2.0 ** 20
    assert parallel_history == plain_history
    for found, expected, start in zip(parallel.get_weights(), plain.get_weights(), initial):
        np.testing.assert_array_equal(found, expected)
        assert np.abs(found - start).max() > 0.05


def test_devices_must_match_the_processes_on_the_machine():
    with pytest.raises(ValueError, match=r"Rank 0: DataParallel\(devices=\['cpu:0', 'cpu:0'\]\) lists 2 devices, but "
                                         r"1 process\(es\) run on this machine.*torchrun --nproc-per-node 2"):
        keras.distribution.DataParallel(devices=["cpu:0", "cpu:0"])
    with pytest.raises(ValueError, match="Pass either device_mesh or devices"):
        keras.distribution.DataParallel(keras.distribution.DeviceMesh((1,), ["batch"], ["cpu:0"]), devices=["cpu"])
    with pytest.raises(ValueError, match="one-axis DeviceMesh"):
        keras.distribution.DataParallel(keras.distribution.DeviceMesh((1, 1), ["batch", "model"], ["cpu:0"]))
    with pytest.raises(ValueError, match="Expected a device such as 'gpu:0'"):
        keras.distribution.DataParallel(devices=["tpu:0"])
    with pytest.raises(ValueError, match="distributed backend"):
        keras.distribution.DataParallel(backend="mpi")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without GPUs")
def test_nccl_without_gpus_is_refused_naming_the_rank(monkeypatch):
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="Rank 1: the NCCL backend needs CUDA GPUs"):
        keras.distribution.DataParallel(backend="nccl")
    with pytest.raises(RuntimeError, match=r"Rank 1 \(local rank 1\) was given device cuda:1, but this machine has 0"):
        keras.distribution.DataParallel(devices=["gpu:0", "gpu:1"], backend="gloo")


def test_torchrun_with_several_processes_chooses_data_parallel(monkeypatch):
    for name, value in TORCHRUN.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # two ranks on CPUs, also beside one GPU
    chosen = keras.distribution.distribution()
    assert isinstance(chosen, keras.distribution.DataParallel) and chosen.num_processes == 2
    assert keras.distribution.distribution() is chosen
    keras.distribution.set_distribution(None)  # training in one process after all
    assert keras.distribution.distribution() is None


def test_set_distribution_takes_data_parallel_or_none():
    with pytest.raises(TypeError, match="Expected a deepglass.distribution.DataParallel or None"):
        keras.distribution.set_distribution("data_parallel")


def test_devices_and_meshes():
    assert keras.distribution.list_devices("cpu") == ["cpu:0"]
    assert keras.distribution.get_device_count() == len(keras.distribution.list_devices())
    with pytest.raises(ValueError, match="device type"):
        keras.distribution.list_devices("tpu")
    mesh = keras.distribution.DeviceMesh((2,), ["batch"], ["gpu:0", "gpu:1"])
    assert keras.distribution.DeviceMesh.from_config(mesh.get_config()).get_config() == mesh.get_config()
    with pytest.raises(ValueError, match="Shape does not match the number of devices"):
        keras.distribution.DeviceMesh((3,), ["batch"], ["gpu:0", "gpu:1"])


def test_rank_strided_shares_cover_each_global_batch_and_their_scales_average_to_one():
    x = np.arange(21, dtype="float32")[:, None]
    shares = [sharding.ShardedArrays(ArrayData(x, x, batch_size=4), rank, 3, True) for rank in range(3)]
    seen = [[(batch[0][:, 0].tolist(), share.loss_scale) for batch in share.batches()] for share in shares]
    for step in range(6):
        parts = [seen[rank][step] for rank in range(3)]
        start, count = 4 * step, min(4, 21 - 4 * step)
        assert sorted(sum((ids for ids, _ in parts), [])) == list(range(start, start + count))
        assert [ids for ids, _ in parts] == [list(range(start + r, start + count, 3)) for r in range(3)]
        # scale_r = 3 * share size / global batch size: averaging scale_r * (share r's mean loss) over the three
        # ranks gives the global batch's mean loss.
        assert [scale for _, scale in parts] == [3 * len(ids) / count for ids, _ in parts]
    assert seen[1][-1] == seen[2][-1] == ([], 0.0)  # the last global batch has one sample, rank 0's
    evaluation = sharding.ShardedArrays(ArrayData(x, x, batch_size=4), 2, 3, False)
    assert len(list(evaluation.batches())) == 5  # evaluation skips the empty share


def test_scaled_share_gradients_average_to_the_global_batch_gradient():
    """The arithmetic behind the equivalence: uneven shares, sample weights, weight and activity penalties."""
    arrays = [a[:3] for a in cases.arrays()]
    model = cases.model()
    model.fit(*arrays[:2], epochs=1, verbose=0)  # builds the loss and the penalties
    x, y, sample_weight = (torch.as_tensor(a, device=keras.config.device()) for a in arrays)

    def gradients(index, scale):
        y_pred = model(x[index], training=True)
        loss, _ = model._compiled_loss(y[index], y_pred, sample_weight[index])
        total = model._add_penalties(loss) + (loss + training_run._layer_losses(model)) * (scale - 1.0)
        return torch.autograd.grad(total, list(model.parameters()))

    def empty_share_gradients():  # what a process with no samples adds: the weight penalties only
        model(x[:0], training=True)
        return torch.autograd.grad(sum(model._weight_penalties()), list(model.parameters()), allow_unused=True)

    whole = gradients(slice(0, 3), 1.0)
    averaged = [(a + b) / 2 for a, b in zip(gradients(slice(0, 3, 2), 2 * 2 / 3), gradients(slice(1, 3, 2), 1 * 2 / 3))]
    for expected, found in zip(whole, averaged):
        torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-7)
    whole = gradients(slice(0, 1), 1.0)  # a global batch of one sample: the second process's share is empty
    averaged = [(a + (0 if b is None else b)) / 2 for a, b in zip(gradients(slice(0, 1), 2.0), empty_share_gradients())]
    for expected, found in zip(whole, averaged):
        torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-7)


def test_a_mid_epoch_backup_resumes_with_the_same_number_of_processes_only():
    state = {"step": 3, "rng": "rank 0", "other_ranks": [{"rng": "rank 1"}]}
    with pytest.raises(ValueError, match="Rank 0: the backup b was written in the middle of an epoch by a run of 2 "
                                         r"process\(es\), but this run has 1; resume it with 2"):
        backup_and_restore._own_states(state, "b")
    assert backup_and_restore._own_states({**state, "step": 0}, "b")["rng"] == "rank 0"


def test_the_package_is_exported():
    assert keras.distribution.DataParallel is distribution_lib.DataParallel
