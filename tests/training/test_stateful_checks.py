"""The checks that fit, evaluate and predict run before their batches leave a stateful layer's states alone."""
import numpy as np
import torch

import deepglass
from deepglass import layers


def stateful_model():
    """On the device `predict` uses, so that a plain call runs the same kernels."""
    deepglass.config.set_random_seed(0)
    model = deepglass.Sequential([deepglass.Input((5, 3), batch_size=4), layers.LSTM(6, stateful=True),
                                  layers.Dense(1)])
    return model.to(deepglass.config.device())


def numpy_of(tensor):
    return tensor.detach().cpu().numpy()


def test_predict_on_a_fresh_stateful_model_equals_a_plain_call():
    x = np.random.default_rng(0).random((4, 5, 3)).astype("float32")
    model = stateful_model()
    direct = numpy_of(model(torch.from_numpy(x)))
    model.reset_states()
    np.testing.assert_array_equal(model.predict(x, batch_size=4, verbose=0), direct)


def test_predict_continues_from_the_states_a_call_left():
    x = np.random.default_rng(0).random((4, 5, 3)).astype("float32")
    model, twin = stateful_model(), stateful_model()
    model(torch.from_numpy(x))
    twin(torch.from_numpy(x))
    expected = numpy_of(twin(torch.from_numpy(x)))  # the second call, from the first call's states
    np.testing.assert_array_equal(model.predict(x, batch_size=4, verbose=0), expected)
