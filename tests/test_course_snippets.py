"""The Keras cheat sheet's code, pasted with only the import changed, runs and learns."""
import numpy as np
import pytest

import deepglass
from deepglass.callbacks import EarlyStopping
from deepglass.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from deepglass.models import Sequential
from deepglass.optimizers import RMSprop
from deepglass.utils import to_categorical


def test_basic_example():
    data = np.random.random((1000, 100))
    labels = np.random.randint(2, size=(1000, 1))
    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['accuracy'])
    history = model.fit(data, labels, epochs=10, batch_size=32, verbose=0)
    predictions = model.predict(data, verbose=0)
    assert predictions.shape == (1000, 1) and ((predictions >= 0) & (predictions <= 1)).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    accuracy = model.evaluate(data, labels, verbose=0)[1]
    np.testing.assert_allclose(accuracy, ((predictions > 0.5) == labels).mean(), rtol=1e-6)


def test_multiclass_mlp_with_to_categorical_and_legacy_rmsprop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 20)).astype("float32")
    y = (x[:, :3].argmax(axis=1) + 3 * (x[:, 3] > 0)).astype("int64")
    num_classes = 6
    Y = to_categorical(y, num_classes)
    model = Sequential()
    model.add(Dense(512, activation='relu', input_shape=(20,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation='relu'))
    model.add(Dropout(0.2))
    model.add(Dense(num_classes, activation='softmax'))
    with pytest.warns(DeprecationWarning):
        opt = RMSprop(lr=0.001, decay=1e-6)
    model.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
    early_stopping_monitor = EarlyStopping(patience=2)
    model.fit(x, Y, batch_size=32, epochs=15, validation_split=0.2, callbacks=[early_stopping_monitor], verbose=0)
    score = model.evaluate(x, Y, batch_size=32, verbose=0)
    assert score[1] > 0.8
    with pytest.warns(DeprecationWarning, match="predict_classes"):
        classes = model.predict_classes(x, batch_size=32)
    np.testing.assert_array_equal(classes, model.predict(x, verbose=0).argmax(-1))
    assert model.output_shape == (None, 6) and len(model.get_weights()) == 6
    assert [entry["class_name"] for entry in model.get_config()["layers"]] == \
        ["InputLayer", "Dense", "Dropout", "Dense", "Dropout", "Dense"]


def test_regression_with_mae_metric():
    rng = np.random.default_rng(1)
    train_data = rng.standard_normal((400, 13)).astype("float32")
    targets = train_data @ rng.standard_normal(13).astype("float32") + 3.0
    model = Sequential()
    model.add(Dense(64, activation='relu', input_dim=train_data.shape[1]))
    model.add(Dense(1))
    model.compile(optimizer='rmsprop', loss='mse', metrics=['mae'])
    history = model.fit(train_data, targets, epochs=30, batch_size=32, verbose=0)
    assert history.history["mae"][-1] < 0.5 * history.history["mae"][0]
    predictions = model.predict(train_data, verbose=0)[:, 0]
    np.testing.assert_allclose(model.evaluate(train_data, targets, verbose=0)[1],
                               np.abs(predictions - targets).mean(), rtol=1e-5)


def test_cnn_model2_on_small_images():
    rng = np.random.default_rng(2)
    x_train = rng.random((64, 16, 16, 3)).astype("float32")
    y_train = (x_train[:, :8].mean(axis=(1, 2, 3)) > x_train[:, 8:].mean(axis=(1, 2, 3))).astype("int64")
    num_classes = 2
    Y_train = to_categorical(y_train, num_classes)
    model2 = Sequential()
    model2.add(Conv2D(32, (3, 3), padding='same', input_shape=x_train.shape[1:]))
    model2.add(Activation('relu'))
    model2.add(Conv2D(32, (3, 3)))
    model2.add(Activation('relu'))
    model2.add(MaxPooling2D(pool_size=(2, 2)))
    model2.add(Dropout(0.25))
    model2.add(Conv2D(64, (3, 3), padding='same'))
    model2.add(Activation('relu'))
    model2.add(Conv2D(64, (3, 3)))
    model2.add(Activation('relu'))
    model2.add(MaxPooling2D(pool_size=(2, 2)))
    model2.add(Dropout(0.25))
    model2.add(Flatten())
    model2.add(Dense(512))
    model2.add(Activation('relu'))
    model2.add(Dropout(0.5))
    model2.add(Dense(num_classes))
    model2.add(Activation('softmax'))
    opt = RMSprop(learning_rate=0.0001)
    model2.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
    assert model2.output_shape == (None, 2)
    assert model2.count_params() == (3 * 9 + 1) * 32 + (32 * 9 + 1) * 32 + (32 * 9 + 1) * 64 + (64 * 9 + 1) * 64 \
        + (64 * 2 * 2 + 1) * 512 + (512 + 1) * 2
    history = model2.fit(x_train, Y_train, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_to_categorical_matches_keras():
    keras = pytest.importorskip("keras")
    for labels, classes in [([0, 2, 1], None), (np.array([[1], [3]]), 5), (np.arange(6).reshape(2, 3), 6)]:
        mine = to_categorical(labels, classes)
        theirs = keras.utils.to_categorical(labels, classes)
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(deepglass.utils.normalize(x), keras.utils.normalize(x))
    with pytest.raises(ValueError, match="num_classes=3"):
        to_categorical([0, 3], 3)
    import torch
    assert torch.equal(to_categorical(torch.tensor([1, 0]), 2), torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
