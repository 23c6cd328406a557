"""One process of a multi-process test run: `python worker.py <scenario> <out_dir>`, with torchrun's variables set.

Each scenario writes what it saw to `<out_dir>/<scenario>.<rank>.json` (and `.npz` for weights); the tests
compare that with one process doing the same.
"""
import json
import os
import signal
import sys
import warnings

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import deepglass as keras
from deepglass.distribution import sharding
from deepglass.training.data_adapters import adapt
from tests.distributed import cases


def main(scenario, out_dir):
    """Run `scenario` ("together": Keras's initialize, then equivalence, coverage, mixed_precision and bad_input in
    one launch)."""
    rank = int(os.environ["RANK"])
    if scenario == "together":
        keras_initialize(rank)
    together = ("equivalence", "coverage", "mixed_precision", "bad_input")
    for name in together if scenario == "together" else (scenario,):
        results, arrays = SCENARIOS[name](rank, out_dir)
        with open(os.path.join(out_dir, f"{name}.{rank}.json"), "w") as file:
            json.dump(results, file)
        np.savez(os.path.join(out_dir, f"{name}.{rank}.npz"), **arrays)


def keras_initialize(rank):
    """Join with Keras's initialize() arguments instead of torchrun's variables."""
    port = os.environ["MASTER_PORT"]
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        del os.environ[name]
    keras.distribution.initialize(job_addresses=f"127.0.0.1:{port}", num_processes=2, process_id=rank)


def weights(model, prefix):
    return {f"{prefix}{i}": w for i, w in enumerate(model.get_weights())}


def equivalence(rank, out_dir):
    """Training on arrays, a torch Dataset and a DataLoader; writing callbacks; evaluate, predict and save."""
    writers = [keras.callbacks.CSVLogger(os.path.join(out_dir, f"log.{rank}.csv")),
               keras.callbacks.ModelCheckpoint(os.path.join(out_dir, f"checkpoint.{rank}.keras")),
               keras.callbacks.TensorBoard(os.path.join(out_dir, f"tensorboard.{rank}"), write_graph=False)]
    model, history, evaluation, predictions = cases.fit_arrays(writers)
    if keras.distribution.is_chief():
        model.save(os.path.join(out_dir, "model.keras"))
    if rank == 0:  # a backward pass of this process alone: the gradient all-reduce hooks must have left the model
        model(torch.ones(2, cases.FEATURES)).sum().backward()
    arrays = {**weights(model, "arrays"), "predictions": predictions}
    results = {"history": history, "evaluation": evaluation}
    for kind in ("dataset", "loader"):
        trained, results[f"{kind}_history"] = cases.fit_torch_data(kind)
        arrays.update(weights(trained, kind))
    return results, arrays


def coverage(rank, out_dir):
    """Which samples and batches each process takes, from arrays, a DataLoader, a PyDataset and a generator."""
    distribution = keras.distribution.distribution()
    ids = np.arange(23, dtype="float32")[:, None]
    seen = {}
    keras.utils.set_random_seed(5)
    shuffled = sharding.shard(adapt(ids, ids, batch_size=4, shuffle=True), distribution, training=True)
    seen["arrays"] = [[batch[0][:, 0].tolist() for batch in shuffled.batches()] for _ in range(2)]
    in_order = sharding.shard(adapt(ids, ids, batch_size=4), distribution, training=False)
    seen["arrays_evaluation"] = [batch[0][:, 0].tolist() for batch in in_order.batches()]
    keras.utils.set_random_seed(5)
    loader = DataLoader(TensorDataset(torch.from_numpy(ids), torch.from_numpy(ids)), batch_size=4, shuffle=True)
    shuffled = sharding.shard(adapt(loader), distribution, training=True)
    seen["loader"] = [[batch[0][:, 0].tolist() for batch in shuffled.batches()] for _ in range(2)]
    pydataset = cases.IdBatches()
    dealt = sharding.shard(adapt(pydataset, shuffle=True), distribution, training=False)
    seen["pydataset"] = [[int(batch[0][0, 0]) // cases.BATCH for batch in dealt.batches()] for _ in range(2)]
    seen["pydataset_prepared"] = pydataset.prepared
    # Training on dealt-out batches: rank 1 has one batch fewer and takes an empty step at the end.
    model = cases.model()
    model.fit(cases.IdBatches(), epochs=2, verbose=0)
    generated = cases.model()
    generated.fit((batch for batch in cases.batches_of_ids()), epochs=1, verbose=0)
    # Rank 0 alone asks to stop in the middle of the first epoch: both processes stop there.
    x, y, _ = cases.arrays()
    stopped = cases.model()
    seen["stopped_after"] = stopped.fit(x, y, batch_size=10, epochs=3, verbose=0,
                                        callbacks=[_StopOnRankZero()]).history["loss"]
    # Each process with its own data (auto_shard_dataset=False): rank 0 has 60 samples, rank 1 54, in batches of 5.
    own_part = slice(0, 60) if rank == 0 else slice(60, None)
    with keras.distribution.DataParallel(auto_shard_dataset=False).scope():
        own = cases.model()
        own.fit(x[own_part], y[own_part], batch_size=5, shuffle=False, epochs=1, verbose=0)
        seen["own_evaluation"] = own.evaluate(x[own_part], y[own_part], batch_size=5, verbose=0, return_dict=True)
        seen["own_predictions"] = len(own.predict(x[own_part], batch_size=5, verbose=0))
    return seen, {**weights(model, "pydataset"), **weights(generated, "generator"), **weights(stopped, "stopped"),
                  **weights(own, "own")}


class _StopOnRankZero(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if keras.distribution.process_id() == 0 and batch == 2:
            self.model.stop_training = True


def mixed_precision(rank, out_dir):
    """mixed_float16 with a LossScaleOptimizer whose first steps overflow and are skipped on both processes."""
    warnings.filterwarnings("ignore", "The dtype policy computes in float16")  # emulated float16 on a CPU
    model, history = cases.fit_mixed_float16()
    return {"history": history, "scale": float(model.optimizer.dynamic_scale)}, weights(model, "mixed")


def bad_input(rank, out_dir):
    """Mistakes that must fail before training, with the same error on every process (so the run goes on)."""
    x, y, _ = cases.arrays()
    attempts = {
        "nccl_without_gpus": lambda: keras.distribution.DataParallel(backend="nccl"),
        "devices_for_3_processes": lambda: keras.distribution.DataParallel(devices=["cpu"] * 3),
        "batch_smaller_than_world": lambda: cases.model().fit(x, y, batch_size=1, verbose=0),
        "weights_differ": lambda: cases.model(seed=1 + rank).fit(x, y, batch_size=10, verbose=0),
        "data_differ": lambda: cases.model().fit(x[:100 if rank else 114], y[:100 if rank else 114], batch_size=10,
                                                 verbose=0),
        "train_on_batch": lambda: cases.model().train_on_batch(x[:4], y[:4]),
    }
    return {"distribution": repr(keras.distribution.distribution()), **_errors_of(attempts)}, {}


def _errors_of(attempts):
    """{name: "ErrorType: message", or None where the attempt succeeded}, for the test to read."""
    errors = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            errors[name] = None
        except Exception as error:  # recorded for the test to read
            errors[name] = f"{type(error).__name__}: {error}"
    return errors


def fully_sharded(rank, out_dir):
    """FullyShardedDataParallel: training, a second fit, evaluate, predict, save and summary; ZeRO-2 with larger
    units on a model with buffers, beside DataParallel; and what it refuses."""
    fsdp = keras.distribution.FullyShardedDataParallel
    checkpoint = keras.callbacks.ModelCheckpoint(os.path.join(out_dir, f"checkpoint.{rank}.keras"))
    with fsdp().scope():
        model, history, evaluation, predictions = cases.fit_arrays([checkpoint])
        if keras.distribution.is_chief():
            model.save(os.path.join(out_dir, "model.keras"))
        lines = []
        model.summary(print_fn=lines.append)
        plain = [type(m).__name__ for m in model.modules()] + [type(p).__name__ for p in model.parameters()]
        arrays = {**weights(model, "fsdp"), "predictions": predictions}
        again = cases.fit_again(model)
        arrays.update(weights(model, "again"))
    with fsdp(reshard_after_forward=False, min_weights_per_unit=50).scope():
        sharded = cases.fit_batchnorm()
        arrays.update(weights(sharded, "zero2"))
    with keras.distribution.DataParallel().scope():  # BatchNormalization's statistics are per share: DP is the reference
        replicated = cases.fit_batchnorm()
        arrays.update(weights(replicated, "batchnorm_dp"))
        arrays.update(weights(cases.fit_arrays()[0], "dp"))
    strides = [[list(p.stride()) for p in model.parameters()] for model in (sharded, replicated)]
    results = {"history": history, "evaluation": evaluation, "again": again, "summary": lines, "classes": plain,
               "errors": _fsdp_refusals(fsdp), "strides": strides}
    return results, arrays


def _fsdp_refusals(fsdp):
    x, y, _ = cases.arrays()
    constrained = keras.Sequential([keras.Input((cases.FEATURES,)), keras.layers.Dense(
        cases.CLASSES, kernel_constraint=keras.constraints.MaxNorm(1.0))])
    constrained.compile("adam", "mse")
    backup = keras.callbacks.BackupAndRestore(os.path.join(os.environ.get("TMPDIR", "/tmp"), "unused"), save_freq=2)
    attempts = {
        "mixed_float16": lambda: cases.mixed_float16_model().fit(x, y, batch_size=10, verbose=0),
        "train_on_batch": lambda: cases.model().train_on_batch(x[:4], y[:4]),
        "constraint": lambda: constrained.fit(x, np.zeros((len(x), cases.CLASSES)), batch_size=10, verbose=0),
        "mid_epoch_backup": lambda: cases.model().fit(x, y, batch_size=10, verbose=0, callbacks=[backup]),
    }
    with fsdp().scope():
        return _errors_of(attempts)


class _KillOnce(keras.callbacks.Callback):
    """Kill rank 1 (SIGKILL, as a crash would) in the middle of the second epoch of torchrun's first attempt."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if first_attempt and os.environ["RANK"] == "1" and self.epoch == 1 and batch == 4:
            os.kill(os.getpid(), signal.SIGKILL)


def elastic(rank, out_dir):
    """An uninterrupted run, then the same run with BackupAndRestore, killed once and restarted by torchrun."""
    uninterrupted = cases.fit_arrays()[0]
    backup = keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"), save_freq=3)
    resumed = cases.fit_arrays([backup, _KillOnce()])[0]
    results = {"restart_count": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
               "backup_left": os.path.exists(os.path.join(out_dir, "backup"))}
    return results, {**weights(uninterrupted, "uninterrupted"), **weights(resumed, "resumed")}


def world_mismatch(rank, out_dir):
    cases.fit_arrays()
    return {}, {}


SCENARIOS = {"equivalence": equivalence, "coverage": coverage, "mixed_precision": mixed_precision,
             "bad_input": bad_input, "elastic": elastic, "world_mismatch": world_mismatch,
             "fully_sharded": fully_sharded}

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
