"""BackupAndRestore: training that survives being killed, and continues bit for bit where it stopped."""
import glob
import hashlib
import os
import warnings

import torch

from deepglass.callbacks.callback import Callback
from deepglass.distribution import process_group
from deepglass.saving.atomic import atomic_path
from deepglass.training import rng_state
from deepglass.training.resume import ResumePoint, metric_state, restore_metric_state

_FORMAT = "deepglass.backup/1"
_STATE_FILE = "latest.backup"


class BackupAndRestore(Callback):
    """Back up the whole training state during `fit`, and continue from the backup when `fit` runs again.

    Kill the process at any moment (even in the middle of writing a backup: each write is atomic), run the same
    script again, and `fit` continues from the last backup: the weights, the optimizer's state (and so the
    learning-rate schedule's position), the epoch and the batch within it, the running metric sums, every random
    generator (torch, CUDA, NumPy, Python and seeded layers) and the order of the data. On the CPU the final
    weights are bit-identical to those of a run that was never interrupted.

    Mid-epoch backups (`save_freq` an integer) are replayed exactly when each epoch is one pass over a source that
    can be iterated again (arrays, tensors, a Dataset, DataLoader or PyDataset, without `steps_per_epoch`); the
    batches of the interrupted epoch that were already trained are drawn again and passed over. A Python generator
    cannot be rewound: with one, the resumed epoch continues with the generator's next batches (a warning says so).
    Other callbacks keep their own state (EarlyStopping's patience counter starts again), as in Keras.

    The backup is one file, `backup_dir/latest.backup`, readable with `torch.load(weights_only=True)`: it holds
    tensors, numbers and strings only, so opening it runs no code. It is deleted when `fit` completes.

    When several processes train together (`deepglass.distribution`), rank 0 writes the file, with every process's
    random state and running metric sums gathered into it, and every process reads it when `fit` runs again
    (`backup_dir` must be on a file system they all see). A mid-epoch backup resumes with the same number of
    processes; an epoch-end backup with any number.

    Arguments:
        backup_dir: the folder for the backup; use it for one training run only.
        save_freq: `"epoch"` (after every epoch), or an integer: after every that many training batches.
        double_checkpoint: also keep the previous backup (`latest.backup.bkp`), used if the latest cannot be read.
        delete_checkpoint: delete the backup when training completes.

    Example:
        >>> backup = deepglass.callbacks.BackupAndRestore("/tmp/run-1", save_freq=100)
        >>> model.fit(x, y, epochs=20, callbacks=[backup])  # killed? run it again: it continues
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore needs a folder for its backups; received backup_dir={backup_dir!r}.")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`: expected 'epoch' or a positive integer number "
                             f"of batches. Received: save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, _STATE_FILE)
        self._previous_path = self._path + ".bkp"
        self._epoch = 0
        self._batches_since_save = 0
        if save_freq != "epoch":
            # Only batch-level backups take the per-batch hook, so epoch backups cost nothing per batch.
            self.on_train_batch_end = self._save_on_batch

    # ------------------------------------------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self.model._track_rng = self.save_freq != "epoch"
        self._batches_since_save = 0
        state = self._read_backup()
        if state is not None:
            self._restore(state)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._write_backup(epoch + 1, 0)

    def _save_on_batch(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._write_backup(self._epoch, batch + 1)

    def on_train_end(self, logs=None):
        self.model._track_rng = False
        if self.delete_checkpoint and process_group.is_chief():
            stray = glob.glob(os.path.join(glob.escape(self.backup_dir), f".{_STATE_FILE}.*.tmp"))  # killed writes
            for path in [self._path, self._previous_path, *stray]:
                if os.path.exists(path):
                    os.remove(path)
            if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)

    # ------------------------------------------------------------------------------------------- writing, reading
    def _write_backup(self, epoch, step):
        model = self.model
        own = {"rng": rng_state.capture(model), "epoch_rng": model._epoch_rng if step else None,
               "metrics": metric_state(model) if step else []}
        others = None
        if process_group.num_processes() > 1:  # each process's random state and metric sums, in rank 0's file
            gathered = process_group.all_gather_objects(own)
            if not process_group.is_chief():
                return
            others = gathered[1:]
        state = {
            "format": _FORMAT, "epoch": epoch, "step": step,
            # By position, as weights are matched in Keras's files: automatic layer names differ between models
            # built in one process (dense, dense_1, ...), though the model is the same.
            "weights": [t.detach().cpu() for t in model.state_dict().values()],
            "weight_names": list(model.state_dict()),
            "optimizer": model.optimizer.state_dict(),
            # Which weights (positions as above) the optimizer updates: layers unfrozen during training change them.
            "optimizer_weights": _positions(model.optimizer.updated_weights, model),
            **own,
        }
        if others is not None:
            state["other_ranks"] = others
        if not all(torch.isfinite(t).all() for t in state["weights"] if t.is_floating_point()):
            warnings.warn(f"BackupAndRestore kept its previous backup: the weights at epoch {epoch + 1}, batch {step} "
                          "hold NaN or infinite values.", stacklevel=2)
            return
        state["checksum"] = _checksum(state)
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._previous_path)
        with atomic_path(self._path) as tmp:
            torch.save(state, tmp)

    def _read_backup(self):
        """The latest readable backup (falling back on the previous one with `double_checkpoint`), or None."""
        candidates = [p for p in (self._path, self._previous_path) if os.path.exists(p)]
        errors = []
        for path in candidates:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as error:  # a damaged file: say which and why, or fall back on the previous one
                errors.append(f"{path}: {error}")
                continue
            if not isinstance(state, dict) or state.get("format") != _FORMAT:
                errors.append(f"{path}: not a deepglass backup (expected format {_FORMAT!r})")
                continue
            if state.pop("checksum", None) != _checksum(state):
                errors.append(f"{path}: damaged (its contents do not match the checksum written with them)")
                continue
            return state
        if errors:
            raise ValueError("BackupAndRestore could not read its backup: " + "; ".join(errors) +
                             ". Delete the folder to start training afresh.")
        return None

    def _restore(self, state):
        model = self.model
        mine = list(model.state_dict().items())
        _check_same_weights(mine, state["weights"], state["weight_names"], self._path)
        with torch.no_grad():
            for (_, tensor), saved in zip(mine, state["weights"]):
                tensor.copy_(saved)
        _build_on_saved_weights(model, state.get("optimizer_weights"))
        model.optimizer.load_state_dict(state["optimizer"])
        own = _own_states(state, self._path)
        point = ResumePoint(epoch=int(state["epoch"]), step=int(state["step"]), rng=own["rng"],
                            epoch_rng=own["epoch_rng"], metric_values=own["metrics"] or None)
        if point.step:
            restore_metric_state(model, point.metric_values)  # checks now that the metrics match, before training
        model._resume_point = point


def _positions(tensors, model):
    """The positions of `tensors` among the model's `state_dict()` entries."""
    index = {id(t): i for i, t in enumerate(model.state_dict(keep_vars=True).values())}
    return [index[id(t)] for t in tensors if id(t) in index]


def _build_on_saved_weights(model, positions):
    """Build the optimizer on the weights it updated when the backup was written, where those differ from the ones
    it is built on now (a callback unfroze a layer during the interrupted run), so that its saved state fits."""
    if positions is None:  # a backup from before the positions were written
        return
    tensors = list(model.state_dict(keep_vars=True).values())
    wanted = [tensors[i] for i in positions]
    if [id(t) for t in wanted] != [id(t) for t in model.optimizer.updated_weights]:
        names = {id(t): name for name, t in model._named_parameters()}
        model.optimizer.build([(names.get(id(t), f"weight_{i}"), t) for i, t in zip(positions, wanted)])


def _own_states(state, path):
    """This process's random state and metric sums in a backup (rank 0's are the file's own)."""
    rank, world = process_group.process_id(), process_group.num_processes()
    saved = [state] + list(state.get("other_ranks", []))
    if len(saved) == world:
        return saved[rank]
    if state["step"]:
        raise ValueError(f"Rank {rank}: the backup {path} was written in the middle of an epoch by a run of "
                         f"{len(saved)} process(es), but this run has {world}; resume it with {len(saved)} "
                         "process(es) (a backup taken at an epoch's end, save_freq='epoch', resumes with any number).")
    return saved[rank] if rank < len(saved) else saved[0]


def _checksum(value):
    """A SHA-256 of every tensor and number in a backup, so that a damaged file is noticed (torch.load does not
    verify its archive's CRCs) and the previous backup used instead."""
    digest = hashlib.sha256()

    def visit(item):
        if torch.is_tensor(item):
            digest.update(f"{item.dtype}{tuple(item.shape)}".encode())
            digest.update(item.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(item, dict):
            for key in sorted(item, key=str):
                digest.update(repr(key).encode())
                visit(item[key])
        elif isinstance(item, (list, tuple)):
            digest.update(f"[{len(item)}".encode())
            for element in item:
                visit(element)
        else:
            digest.update(repr(item).encode())

    visit(value)
    return digest.hexdigest()


def _check_same_weights(mine, saved, saved_names, path):
    """Refuse a backup of another model before anything changes: as many tensors, of the same shapes and dtypes."""
    if len(mine) != len(saved):
        raise ValueError(f"The backup {path} holds {len(saved)} weight tensors; this model has {len(mine)}. It is the "
                         "backup of another model: use a new backup_dir for a changed model.")
    for (name, tensor), theirs, their_name in zip(mine, saved, saved_names):
        if tuple(tensor.shape) != tuple(theirs.shape) or tensor.dtype != theirs.dtype:
            raise ValueError(f"The backup {path} holds '{their_name}' with shape {tuple(theirs.shape)} and dtype "
                             f"{theirs.dtype} where this model has '{name}' with shape {tuple(tensor.shape)} and "
                             f"{tensor.dtype}. Use a new backup_dir for a changed model.")
