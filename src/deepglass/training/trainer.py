"""The training API of models: compile, fit, evaluate, predict and their one-batch forms.

One train step is: forward, loss (plus regularisation penalties), backward, optimizer step (fused kernels where
torch has them), constraints when any are set, and metric updates on the device. Nothing in a step reads a value
back to the host; the progress bar and callbacks read values only when they show or need them.
"""
import collections.abc
import functools
import inspect
import warnings

import torch

from deepglass import config
from deepglass import optimizers as optimizers_module
from deepglass.callbacks import CallbackList, TerminateOnNaN
from deepglass.distribution import distribution_lib, training_run
from deepglass.layers import layer as layer_module
from deepglass.layers.layer import Layer, checked_calls, new_weights_on
from deepglass.mixed_precision import autocast as mixed_autocast
from deepglass.training import default_callbacks, jit, rng_state, step_graphs
from deepglass.training.array_data import split_validation
from deepglass.training.data_adapters import adapt, is_array_data
from deepglass.training.last_check import LastCheck
from deepglass.training.legacy_methods import LegacyTrainingMethods, epochs_of
from deepglass.training.loss_watch import LossWatch
from deepglass.training.compile_utils import CompiledLoss, CompiledMetrics, LossTracker, flatten_targets
from deepglass.user_frames import user_stacklevel
from deepglass.utils import tree


def _distributed_call(method):
    """Run `method` as one call of a multi-process run when a distribution is active (see deepglass.distribution):
    each process then takes its share of the data and the results are those of all the processes together."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        outer = getattr(self, "_distributed", None)
        self._distributed = training_run.begin(self)
        try:
            return method(self, *args, **kwargs)
        finally:
            if self._distributed is not None:
                self._distributed.finish()
            self._distributed = outer
    return call


def _keeps_training_mode(method):
    """Put the model's training mode back after `method` (an inference pass): a callback's `predict` in the middle of
    an epoch must not leave the steps after it in inference mode (dropout off, batch normalisation frozen)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        training = self.training
        try:
            return method(self, *args, **kwargs)
        finally:
            if self.training != training:
                self.train(training)
    return call


class Trainer(LegacyTrainingMethods):
    """Mixed into `Model`: everything between `compile` and `predict`."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._compiled_loss = None
        self._compiled_metrics = None
        self._loss_trackers = []
        self._prepared = False
        self._resume_point = None  # a ResumePoint that BackupAndRestore leaves for fit to continue from
        self._track_rng = False  # whether fit keeps the random state of each epoch's start (`_epoch_rng`)
        self._epoch_rng = None
        self._distributed = None  # the ParallelRun of the current fit/evaluate/predict on several processes
        self._half_outputs = False  # mixed precision: whether the outputs are float16/bfloat16 (set by _prepare)
        self._jit_compile = False
        self._prepared_batch_kind = None  # the batches the one-batch forms last checked (see _prepare_for_batches_like)
        self._jit_forward = None  # compile(jit_compile=True): the compiled forward that steps call instead of self
        self._run_eagerly = False
        self._step_graphs = None  # on a GPU, the CUDA graphs that replay training steps (see step_graphs)
        self._last_check = LastCheck()  # the last checked forward pass (see _checked_few)
        self._trainable_changes_seen = None  # `trainable` assignments counted at the last _follow_trainable_weights

    # ----------------------------------------------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure training: the optimizer, the loss (per output if several) and the metrics to report.

        Arguments:
            optimizer: a name (`"adam"`, `"sgd"`, `"rmsprop"`, ...) or an optimizer instance.
            loss: a name (`"mse"`, `"sparse_categorical_crossentropy"`, ...), a Loss, a function
                `loss(y_true, y_pred)`, or a list / dict of them for a model with several outputs.
            loss_weights: weights of the per-output losses in the total.
            metrics: names or Metric objects (a list, or per output a list of lists / a dict).
            weighted_metrics: metrics that take `sample_weight` and `class_weight` into account.
            auto_scale_loss: wrap the optimizer in a `LossScaleOptimizer` when the model's dtype policy is
                `"mixed_float16"`, as Keras does.
            jit_compile: True runs the forward (and backward) pass of fit, evaluate and predict through
                `torch.compile` (the first batch of each kind compiles); `"auto"` and False run eagerly, which is
                the fast path for small models and the default, as in Keras on PyTorch.
            run_eagerly: True runs every training step op by op, also on a GPU, where steps are otherwise replayed
                from CUDA graphs (see `deepglass.training.step_graphs`): for debugging a layer's `call` in Python.
            steps_per_execution: accepted for Keras compatibility; deepglass runs one step at a time.
        """
        self._jit_compile = jit_compile is True
        self.run_eagerly = run_eagerly
        self._jit_forward = jit.CompiledForward(self) if self._jit_compile else None
        self.optimizer = optimizers_module.get(optimizer)
        # --- mixed precision: float16 gradients underflow without loss scaling (Keras wraps the optimizer here too)
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16" and self.optimizer is not None and \
                not isinstance(self.optimizer, optimizers_module.LossScaleOptimizer):
            self.optimizer = optimizers_module.LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
        self.loss = loss
        output_names = self._output_names()
        self._compiled_loss = CompiledLoss(loss, loss_weights, output_names)
        self._compiled_metrics = CompiledMetrics(metrics, weighted_metrics, output_names)
        self._loss_trackers = [LossTracker("loss")]
        if len(output_names) > 1:
            self._loss_trackers += [LossTracker(f"{name}_loss") for name in output_names]
        self.compiled = True
        self._prepared = False
        self._compile_args = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                              "metrics": metrics, "weighted_metrics": weighted_metrics}

    def get_compile_config(self):
        """The arguments `compile` was given, as a JSON-safe dict (None before compile), as Keras saves them."""
        from deepglass.saving import compile_config
        return compile_config.get_compile_config(self)

    def compile_from_config(self, config):
        """`compile` again with the arguments of `get_compile_config()`."""
        from deepglass.saving import compile_config
        compile_config.compile_from_config(self, config)

    @property
    def run_eagerly(self):
        """Whether training steps run op by op, never from a CUDA graph (set by `compile`, or here)."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = bool(value)
        self._step_graphs = None

    def _output_names(self):
        outputs = getattr(self, "outputs", None)
        if outputs and len(outputs) > 1:
            return self.output_names
        return ["output"]

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f'You must call compile() before {what}() on model "{self.name}", e.g. '
                               "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', "
                               "metrics=['accuracy']).")

    @property
    def metrics(self):
        """The loss trackers and compiled metrics, in the order their results are reported."""
        compiled = [m for m, _, _ in self._compiled_metrics.metrics] if self._compiled_metrics and \
            self._compiled_metrics.built else []
        return list(self._loss_trackers) + compiled

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def _metric_results(self):
        """The current metric values as tensors (no host synchronisation)."""
        return {metric.name: metric.result() for metric in self.metrics}

    # --------------------------------------------------------------------------------------------------------- fit
    def _shard(self, data, training=False):
        """This process's share of `data` when several processes train together (else `data` itself)."""
        return data if self._distributed is None else self._distributed.shard(data, training)

    def _verbose_here(self, verbose):
        """`verbose` resolved; 0 on every process but rank 0, which alone prints."""
        verbose = _resolve_verbose(verbose)
        return 0 if self._distributed is not None and not self._distributed.is_chief else verbose

    @_distributed_call
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, **legacy):
        """Train for `epochs` passes over `(x, y)` with mini-batches of `batch_size` (32 by default).

        Returns a `History` whose `history` dict holds the loss and metrics per epoch, with `val_` entries when
        there is validation data (`validation_split`: the last fraction of the samples, or `validation_data`).
        Keras 1's `nb_epoch` is taken for `epochs`, with a deprecation warning.
        """
        epochs = epochs_of(epochs, legacy)
        self._require_compiled("fit")
        verbose = self._verbose_here(verbose)
        if validation_split and validation_data is not None:
            validation_split = 0.0
        if validation_split:
            if not is_array_data(x):
                raise ValueError("validation_split works with arrays and tensors only; pass validation_data for a "
                                 f"{type(x).__name__}.")
            (x, y, sample_weight), validation_data = split_validation((x, y, sample_weight), validation_split)
        device = self._device()
        train = self._shard(adapt(x, y, sample_weight, batch_size, shuffle, class_weight, device), training=True)
        if train.first_batch()[1] is None:
            raise ValueError("fit() needs targets y for the loss; got none.")
        val = self._validation_data(validation_data, validation_batch_size or batch_size, device)
        self._prepare(train)
        if self._step_graphs is not None:
            self._step_graphs.start_fit()
        self._warn_about_nans(train.count_nans())
        steps = steps_per_epoch or train.steps
        callback_list = CallbackList([callbacks, default_callbacks.create(verbose=verbose)], add_history=True,
                                     add_progbar=verbose != 0, model=self, verbose=verbose, epochs=epochs,
                                     steps=steps)
        if self._distributed is not None:  # last, after every callback that may stop training
            callback_list.append(self._distributed.stop_agreement())
        self._batch_hooks = callback_list.needs_batch_hooks("train")
        self._loss_watch = None if any(isinstance(c, TerminateOnNaN) for c in callback_list.callbacks) \
            else LossWatch(self)
        self.stop_training = False
        self._resume_point, self._track_rng = None, False
        callback_list.on_train_begin()
        resume, self._resume_point = self._resume_point, None  # set by BackupAndRestore.on_train_begin
        if self._distributed is not None:
            self._distributed.start_training(train)
        if resume is not None and resume.step and not (train.replayable and steps_per_epoch is None):
            warnings.warn(f"Resuming epoch {resume.epoch + 1} from its start: its batches cannot be drawn again in "
                          "the same order (a generator, or steps_per_epoch set), so the batches trained before the "
                          "interruption are not skipped.", stacklevel=2)
            resume = resume.from_epoch_start()
        logs = {}
        for epoch in range(resume.epoch if resume else initial_epoch, epochs):
            resuming = resume if resume is not None and epoch == resume.epoch else None
            self._epoch = epoch
            self._begin_epoch(resuming)
            callback_list.on_epoch_begin(epoch)
            self._follow_trainable_weights()
            self._train_epoch(train, callback_list, steps_per_epoch, resuming)
            logs = self._read_logs()
            if self._loss_watch is not None:
                self._loss_watch.check(logs)
            if val is not None and _validation_due(epoch, validation_freq):
                val_logs = self._run_evaluation(val, callback_list, validation_steps)
                logs.update({f"val_{name}": value for name, value in val_logs.items()})
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        self.optimizer.finalize_variable_values()  # moving averages into the weights, when use_ema is set
        callback_list.on_train_end(logs)
        return self.history

    def _follow_trainable_weights(self):
        """Build the optimizer again when a weight that trains is one it does not update: a layer made trainable
        since it was built (without compiling again), a weight replaced by a new tensor (`load_state_dict(...,
        assign=True)`) or created after it, or an optimizer built on another model. A torch optimizer steps only the
        tensors it was given, so such a weight would silently stay as it is (Keras raises an error there). It is
        rebuilt on them together with the weights it had, so that freezing and unfreezing a layer again does not
        restart it each time. Run before each epoch of `fit`, and by `train_on_batch` after a `trainable` change."""
        self._trainable_changes_seen = layer_module._trainable_changes[0]
        optimizer = self.optimizer
        if not optimizer.built:  # assigned after compile: built as compile's first fit would build it
            optimizer.build(self._named_trainable_weights())
            return
        known = {id(p) for p in optimizer.updated_weights}
        if all(id(p) in known for p in self.parameters() if p.requires_grad):  # the usual case, at a tenth the cost
            return
        weights = self._named_parameters()
        training = [name for name, p in weights if p.requires_grad and id(p) not in known]
        if not training:
            return
        listed = ", ".join(training[:3]) + (f" and {len(training) - 3} more" if len(training) > 3 else "")
        if self._distributed is not None:  # the processes' gradient averaging covers only what trained at its start
            warnings.warn(f"Trainable weights that the optimizer does not update: {listed}. With several processes "
                          "they stay as they are: compile again, with a new optimizer, after changing which layers "
                          "are trainable.", stacklevel=user_stacklevel())
            return
        own = [(name, p) for name, p in weights if p.requires_grad or id(p) in known]
        warnings.warn(f"Trainable weights that the optimizer does not update: {listed} (a layer made trainable, a "
                      "weight replaced or created after the optimizer was built, or an optimizer shared with another "
                      "model: give each model its own). It is built again on them and the weights it had, from step "
                      "0 as after compile(); to choose its settings for this phase (a lower learning rate for "
                      "fine-tuning, say), compile again with a new optimizer.", stacklevel=user_stacklevel())
        optimizer.build(own)

    def _begin_epoch(self, resume):
        """Reset the metrics and, when resuming, put back the random state the epoch began with."""
        self.reset_metrics()
        if resume is not None:
            resume.begin_epoch(self)
        if self._track_rng:  # kept for a BackupAndRestore that saves mid-epoch: it decides the epoch's data order
            self._epoch_rng = rng_state.capture(self)

    def _train_epoch(self, train, callback_list, steps_per_epoch, resume=None):
        batch_hooks, train_kwargs = self._batch_hooks, self._mode_kwargs(True)
        train_step = self._train_step if self._distributed is None else self._distributed.train_step
        batches = train.batches(steps_per_epoch)
        first_step = 0
        if resume is not None and resume.step:
            batches, first_step = resume.skip(batches, self), resume.step
        watch = self._loss_watch
        if watch is not None:
            watch.start_epoch(self._epoch, first_step)
        self.train(True)
        for step, (xb, yb, swb) in enumerate(batches, first_step):
            if batch_hooks:
                callback_list.on_train_batch_begin(step)
            try:
                train_step(xb, yb, swb, train_kwargs)
            except RuntimeError as error:
                raise train.explain(error, step, xb) from error
            if watch is not None:
                watch.record(self._step_loss)
            if batch_hooks:
                callback_list.on_train_batch_end(step, LazyLogs(self._metric_results, watch))
            if self.stop_training:
                break
        self.train(False)

    def _train_step(self, x, y, sample_weight, call_kwargs):
        # Several processes train with ParallelRun.train_step (deepglass.distribution), the same step on a share.
        graphs = self._step_graphs
        replayed = None if graphs is None else graphs.run(x, y, sample_weight, call_kwargs)
        if replayed is None:
            self.optimizer.zero_grad()
            loss, parts, y, y_pred = self._forward_backward(x, y, sample_weight, call_kwargs)
        else:
            loss, parts, y, y_pred = replayed
            loss = loss.clone()  # the graph's own loss tensor is written again by the next step
        # For callbacks that record per-step losses, without a host sync. A plain attribute: nn.Module's __setattr__
        # looks for parameters, buffers and modules first, at a cost that shows in small models' steps.
        object.__setattr__(self, "_step_loss", loss)
        self._apply_update()
        self._update_metrics(loss, parts, y, y_pred, sample_weight)

    def _forward_backward(self, x, y, sample_weight, call_kwargs):
        """Forward pass, loss and backward pass of a training step: `(detached loss, per-output losses, targets,
        outputs)`. The gradients add to the weights' `grad` (set to None before, they are written)."""
        y = self._targets(y)
        y_pred = self._loss_outputs((self._jit_forward or self)(x, **call_kwargs))  # under torch.autocast if mixed
        loss, parts = self._compiled_loss(y, y_pred, sample_weight)
        loss = self._add_penalties(loss)
        self.optimizer.scale_loss(loss).backward()  # the loss itself unless loss scaling is on (float16)
        return loss.detach(), parts, y, y_pred

    def _loss_outputs(self, y_pred):
        """The model's outputs as the loss and the metrics take them: float32 under mixed precision."""
        return mixed_autocast.float32_outputs(y_pred) if self._half_outputs else y_pred

    def _minimize(self, loss):
        """One optimizer update along the gradient of `loss`, as the multi-process step (deepglass.distribution) and
        lr_find take it (fit's own step does the same in two parts, so that a CUDA graph can hold the first: see
        `_forward_backward`). A LossScaleOptimizer (mixed_float16) scales the loss before the backward pass, then
        unscales the gradients and skips the update when one is not finite."""
        self.optimizer.zero_grad()
        self.optimizer.scale_loss(loss).backward()  # the loss itself unless loss scaling is on (float16)
        self._apply_update()

    def _apply_update(self):
        """The optimizer's update from the weights' gradients, then the constraints."""
        self.optimizer.step()
        if self._constrained:
            self.apply_constraints()

    def _targets(self, y):
        """y as the compiled loss expects it: one tensor for one output, a list in output order otherwise."""
        if self._single_output and torch.is_tensor(y):
            return y
        return flatten_targets(y, self._output_count, self._compiled_loss.output_names)

    def _weight_penalties(self):
        """The weight penalties (`kernel_regularizer`, ...), one per regularised weight, in `_penalties_in_use`'s
        order."""
        return [penalty(getattr(layer, name)) for layer, name, penalty in self._penalties_in_use]

    def _add_penalties(self, loss, penalties=None):
        """The loss plus the weight penalties and the losses layers added during the forward pass. `penalties`:
        computed here unless given (sharded training computes them while each layer's weights are whole)."""
        for penalty in self._weight_penalties() if penalties is None else penalties:
            loss = loss + penalty
        for layer in self._loss_layers:
            for added in layer._losses:
                loss = loss + added
        return loss

    def _update_metrics(self, loss, parts, y, y_pred, sample_weight):
        batch_size = len(y_pred if type(y_pred) is torch.Tensor else tree.flatten(y_pred)[0])
        self._loss_trackers[0].update(loss, batch_size)  # the trackers add detached values: no grad mode needed
        for tracker, part in zip(self._loss_trackers[1:], parts):
            if part is not None:
                tracker.update(part, batch_size)
        if self._compiled_metrics.metrics:
            with torch.no_grad():
                self._compiled_metrics.update(y, tree.map_structure(torch.Tensor.detach, y_pred), sample_weight)

    def _read_logs(self):
        """Epoch-end values as Python floats, sorted by name as Keras reports them (one synchronisation)."""
        results = self._metric_results() if self._distributed is None else self._distributed.metric_results()
        return {name: float(results[name]) for name in sorted(results)}

    # ----------------------------------------------------------------------------------------- checks before a run
    def _device(self):
        """The device this call trains on, with the model moved there (once: later calls compare one weight)."""
        device = self._run_device()
        first = next(iter(self.parameters()), None)
        if first is not None and first.device != device:
            self.to(device)
        return device

    def _run_device(self):
        return config.device() if self._distributed is None else self._distributed.device

    def _prepare(self, data):
        """Check shapes and labels on the first batch, build what is lazy, and gather what each step needs."""
        x_first, y_first, _ = data.first_batch()
        x_few, y_pred = self._checked_few(x_first)
        self._half_outputs = mixed_autocast.has_half(y_pred)
        self._output_count = len(tree.flatten(y_pred))
        self._single_output = self._output_count == 1
        if y_first is not None:
            y_first = self._targets(y_first)
            y_pred = _broadcast_samples(y_pred, _sample_count(x_few), _sample_count(y_first))
            self._compiled_loss.validate_targets(y_first, y_pred, self._targets(data.first_labels()))
            if not self._compiled_metrics.built:
                self._compiled_metrics.build(y_first, y_pred)
        if not self._prepared:
            self.optimizer.build(self._named_trainable_weights())
            self._collect_step_extras()
            self._prepared = True
        else:
            self.optimizer.follow_weights()  # the model may have moved since it was built
        self._step_graphs = step_graphs.for_model(self, self._run_device())

    def _warn_about_nans(self, nans):
        """Warn when `count_nans` found NaN values in x (an int, or a tensor to read now)."""
        nans = int(nans)
        if nans:
            warnings.warn(f"The input data holds {nans} NaN values; the loss will be NaN wherever they reach it. "
                          "Replace or drop them (e.g. np.nan_to_num) first.", stacklevel=3)

    def _named_trainable_weights(self):
        """(`"layer/weight"`, tensor) pairs, so optimizers can exclude weights by name as Keras's do."""
        return _named(self._weight_triples("trainable"))

    def _named_parameters(self):
        """`_named_trainable_weights`' pairs for every parameter, trainable now or not (frozen layers' too)."""
        return [(name, t) for name, t in _named(self._weight_triples("all")) if isinstance(t, torch.nn.Parameter)]

    def _checked_few(self, x_first):
        """`_checked_forward` on the first samples of the first batch: `(those samples, the outputs)`. They show the
        shapes and dtypes, where a whole batch would cost a forward pass per call of fit, evaluate and predict (the
        labels are still checked over the whole first batch, against these outputs broadcast to it). Samples of the
        kind last checked on the same layers and weights are not checked again (see `LastCheck`)."""
        x_few = _first_samples(x_first, self)
        outputs = self._last_check.outputs(self, x_few)
        if outputs is not None:
            return x_few, outputs
        try:
            outputs = self._checked_forward(x_few)
            self._last_check.remember(self, x_few, outputs)
            return x_few, outputs
        except Exception as error:  # noqa: BLE001 -- raised again below
            failure = error
        if x_few is not x_first:
            self._checked_forward(x_first)  # fails again, with a message that names the batch's own shape
        raise failure

    def _checked_forward(self, x_small):
        self.train(False)
        # A stateful layer's states must not advance for this check: they are put back afterwards.
        stateful = [(m, m.states) for m in self.modules()
                    if getattr(m, "stateful", False) and hasattr(m, "_set_states")]
        # What this call builds (a Sequential without an Input builds its layers from shapes) goes to the device.
        with torch.no_grad(), checked_calls(), new_weights_on(self._run_device()):
            outputs = self(x_small, **self._mode_kwargs(False))
        for layer, states in stateful:
            if states is None:
                layer.reset_state()
            else:
                layer._set_states(states)
        return outputs

    def _collect_step_extras(self):
        layers = [m for m in self.modules() if isinstance(m, Layer)]
        self._penalties_in_use = [(layer, name, penalty) for layer in layers for name, penalty in layer._penalties]
        # A plain list, not tracked as the model's own layers (see Layer.__setattr__): they are registered already.
        object.__setattr__(self, "_loss_layers",
                           [layer for layer in layers if layer._uses_add_loss or layer.activity_regularizer])
        self._constrained = any(layer._constraints for layer in layers)

    def _mode_kwargs(self, training):
        if not hasattr(self, "_call_takes_training"):
            self._call_takes_training = "training" in inspect.signature(self.call).parameters
        return {"training": training} if self._call_takes_training else {}

    def _validation_data(self, validation_data, batch_size, device):
        if validation_data is None:
            return None
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be (x_val, y_val), (x_val, y_val, val_sample_weight) or a "
                                 f"DataLoader, Dataset, PyDataset or generator; got a sequence of "
                                 f"{len(validation_data)} items.")
            return self._shard(adapt(*validation_data, batch_size=batch_size, device=device))
        if is_array_data(validation_data):
            raise ValueError("validation_data must be a tuple (x_val, y_val); got a single array.")
        return self._shard(adapt(validation_data, device=device))

    # ---------------------------------------------------------------------------------------------------- evaluate
    @_keeps_training_mode
    @_distributed_call
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics on `(x, y)`: a scalar (loss only), a list in `metrics_names` order, or a dict."""
        self._require_compiled("evaluate")
        data = self._shard(adapt(x, y, sample_weight, batch_size, device=self._device()))
        if data.first_batch()[1] is None:
            raise ValueError("evaluate() needs targets y; got none.")
        self._prepare(data)
        nans = data.count_nans(wait=False)  # on a GPU read with the results: one wait for the device, not two
        verbose = self._verbose_here(verbose)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=steps or data.steps)
        logs = self._run_evaluation(data, callback_list, steps)
        self._warn_about_nans(nans)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def _run_evaluation(self, data, callback_list, steps=None):
        """Loss and metrics over `data` (the metrics are reset first; fit reads its own before validating)."""
        self.reset_metrics()
        batch_hooks = callback_list.needs_batch_hooks("test")
        callback_list.on_test_begin()
        call_kwargs = self._mode_kwargs(False)
        self.train(False)
        for step, (xb, yb, swb) in enumerate(data.batches(steps)):
            if batch_hooks:
                callback_list.on_test_batch_begin(step)
            with torch.inference_mode():
                yb = self._targets(yb)
                y_pred = self._loss_outputs((self._jit_forward or self)(xb, **call_kwargs))
                loss, parts = self._compiled_loss(yb, y_pred, swb)
                loss = self._add_penalties(loss)
            self._update_metrics(loss, parts, yb, y_pred, swb)
            if batch_hooks:
                callback_list.on_test_batch_end(step, LazyLogs(self._metric_results))
        logs = self._read_logs()
        callback_list.on_test_end(logs)
        return logs

    # ----------------------------------------------------------------------------------------------------- predict
    @_keeps_training_mode
    @_distributed_call
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for `x` as NumPy arrays (a list or dict of them for several outputs)."""
        data = self._shard(adapt(x, batch_size=batch_size, device=self._device()))
        self._checked_few(data.first_batch()[0])
        verbose = self._verbose_here(verbose)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=steps or data.steps)
        batch_hooks = callback_list.needs_batch_hooks("predict")
        call_kwargs = self._mode_kwargs(False)
        self.train(False)  # layers that read `self.training` (Dropout without `training`, torch modules)
        chunks = []
        callback_list.on_predict_begin()
        with torch.inference_mode():
            for step, (xb, _, _) in enumerate(data.batches(steps)):
                if batch_hooks:
                    callback_list.on_predict_batch_begin(step)
                outputs = (self._jit_forward or self)(xb, **call_kwargs)
                chunks.append(outputs)
                if batch_hooks:
                    callback_list.on_predict_batch_end(step, {"outputs": outputs})
        callback_list.on_predict_end()
        chunks_flat = [tree.flatten(c) for c in chunks]
        if self._distributed is not None:  # every process's outputs, in the data's order
            chunks_flat = [self._distributed.gather_predictions(data, chunks_flat)]
        flat = [_numpy(torch.cat(parts)) for parts in zip(*chunks_flat)]
        return tree.pack_like(chunks[0], flat)

    # --------------------------------------------------------------------------------------------- one-batch forms
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns this batch's loss and metrics (the metrics are reset first, as
        Keras does)."""
        self._require_compiled("train_on_batch")
        if getattr(distribution_lib.distribution(), "num_processes", 1) > 1:
            raise RuntimeError("train_on_batch() trains one process alone, so under DataParallel the processes' "
                               "weights would drift apart; use fit(), which splits each batch between the "
                               "processes and averages their gradients.")
        data = adapt(x, y, sample_weight, batch_size=len(tree.flatten(x)[0]), class_weight=class_weight,
                     device=self._device())
        self._prepare_for_batches_like(data)
        if self._trainable_changes_seen != layer_module._trainable_changes[0]:
            self._follow_trainable_weights()
        self.reset_metrics()
        self.train(True)
        xb, yb, swb = data.first_batch()
        self._train_step(xb, yb, swb, self._mode_kwargs(True))
        self.train(False)
        return self._batch_result(return_dict)

    @_keeps_training_mode
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch, without training."""
        self._require_compiled("test_on_batch")
        data = adapt(x, y, sample_weight, batch_size=len(tree.flatten(x)[0]), device=self._device())
        self._prepare_for_batches_like(data)
        self._run_evaluation(data, CallbackList(None, model=self))
        return self._batch_result(return_dict)

    def _prepare_for_batches_like(self, data):
        """`_prepare` for the one-batch forms, which loops call at every step: once per kind of batch (the shapes
        after the batch axis and the dtypes of x and y), not again for each batch of the same kind."""
        x, y, _ = data.first_batch()
        kind = tuple((tuple(t.shape[1:]), t.dtype) if torch.is_tensor(t) else type(t) for t in tree.flatten((x, y)))
        if not (self._prepared and kind == self._prepared_batch_kind):
            self._prepare(data)
            self._warn_about_nans(data.count_nans())
            self._prepared_batch_kind = kind

    def predict_on_batch(self, x):
        """The outputs for one batch as NumPy arrays."""
        return self.predict(x, batch_size=len(tree.flatten(x)[0]), verbose=0)

    def _batch_result(self, return_dict):
        logs = self._read_logs()
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values


class LazyLogs(collections.abc.Mapping):
    """Batch-level logs whose values are read from the device only when a callback looks at them."""

    def __init__(self, compute, loss_watch=None):
        self._compute = compute
        self._values = None
        self._loss_watch = loss_watch

    def _read(self):
        if self._values is None:
            self._values = {name: float(value) for name, value in sorted(self._compute().items())}
            if self._loss_watch is not None:
                self._loss_watch.check(self._values)
        return self._values

    def __getitem__(self, key):
        return self._read()[key]

    def __iter__(self):
        return iter(self._read())

    def __len__(self):
        return len(self._read())


def _named(triples):
    return [(f"{getattr(owner, 'name', type(owner).__name__)}/{name}", getattr(owner, name))
            for owner, name, _ in triples]


def _first_samples(x, model, count=2):
    """The first `count` samples of a batch, for the checks before predicting; the whole batch for a model with a
    stateful layer, whose batch size is fixed."""
    if any(getattr(m, "stateful", False) for m in model.modules()):
        return x
    return tree.map_structure(lambda a: a[:count], x)


def _sample_count(batch):
    return len(tree.flatten(batch)[0])


def _broadcast_samples(outputs, few, count):
    """The outputs of a batch's first `few` samples seen as `count` samples (the first one repeated, as a view): the
    label checks and the metrics' resolution look at shapes and dtypes. An output without that batch axis stays."""
    def broadcast(output):
        if not torch.is_tensor(output) or output.dim() == 0 or output.shape[0] != few or few in (0, count):
            return output
        return output[:1].expand(count, *output.shape[1:])
    return tree.map_structure(broadcast, outputs)


def _numpy(tensor):
    """A tensor as a NumPy array; bfloat16 (mixed precision), which NumPy lacks, as float32."""
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).cpu().numpy()


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}.")
    return verbose


def _validation_due(epoch, frequency):
    if isinstance(frequency, int):
        return (epoch + 1) % frequency == 0
    return epoch + 1 in frequency


