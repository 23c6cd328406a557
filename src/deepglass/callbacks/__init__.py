"""Callbacks: hooks into fit, evaluate and predict (History, EarlyStopping, ReduceLROnPlateau, ...)."""
from deepglass.callbacks.backup_and_restore import BackupAndRestore
from deepglass.callbacks.callback import Callback
from deepglass.callbacks.callback_list import CallbackList
from deepglass.callbacks.csv_logger import CSVLogger
from deepglass.callbacks.early_stopping import EarlyStopping
from deepglass.callbacks.history import History
from deepglass.callbacks.lambda_callback import LambdaCallback
from deepglass.callbacks.learning_rate_scheduler import LearningRateScheduler
from deepglass.callbacks.model_checkpoint import ModelCheckpoint
from deepglass.callbacks.monitor_callback import MonitorCallback
from deepglass.callbacks.progbar_logger import ProgbarLogger
from deepglass.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from deepglass.callbacks.tensorboard import TensorBoard
from deepglass.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]
__all__ += ["BackupAndRestore", "ModelCheckpoint", "TensorBoard"]
