"""The course's Keras cheat sheet (DataCamp's "Keras" sheet), run end to end on deepglass.

Every snippet of the sheet is here in its order and as it is written: data, preprocessing, the MLP, CNN and LSTM
models, inspection, compile, fit, evaluate, predict, save and reload, fine-tuning and early stopping. Only the import
lines change (`keras` -> `deepglass`), plus the few spellings that Keras 3 itself no longer accepts and the datasets
that need a download; a `# Changed:` comment marks each such line. Look at the printed results of each section.
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import deepglass as keras
from deepglass.callbacks import EarlyStopping, ModelCheckpoint
from deepglass.datasets import fashion_mnist
from deepglass.layers import Activation, Conv2D, Dense, Dropout, Embedding, Flatten, LSTM, MaxPooling2D
from deepglass.models import Sequential, load_model
from deepglass.optimizers import RMSprop
from deepglass.preprocessing import sequence
from deepglass.utils import to_categorical


def imdb_is_cached():
    """Whether imdb.npz is already in the deepglass or Keras dataset cache (this example never downloads)."""
    homes = [os.environ.get("DEEPGLASS_HOME", "~/.deepglass"), os.environ.get("KERAS_HOME", "~/.keras")]
    return any(os.path.isfile(os.path.join(os.path.expanduser(home), "datasets", "imdb.npz")) for home in homes)


def synthetic_reviews(n, seed, vocabulary=20000):
    """IMDB-like data when imdb.npz is not cached: reviews as lists of word indices of varied length, and labels,
    1 (positive) or 0, drawn at random; each review holds three to eight sentiment words, three in four of them of
    its label's kind ("positive" words are the indices 100-149, "negative" ones 150-199)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    reviews = []
    for label in labels:
        # Ordinary words (indices 200 and up), small indices the most frequent, as in imdb's ranking by frequency.
        words = list(rng.zipf(1.3, rng.integers(30, 150)) % (vocabulary - 200) + 200)
        for _ in range(rng.integers(3, 9)):  # three to eight sentiment words, three in four agreeing with the label
            positive = rng.random() < (0.75 if label else 0.25)
            word = rng.integers(100, 150) if positive else rng.integers(150, 200)
            words.insert(rng.integers(0, len(words) + 1), word)
        reviews.append([1] + [int(word) for word in words])  # 1 marks the start of a review, as in imdb.load_data
    return np.array(reviews, dtype=object), labels


def load_sheet_data(quick):
    """The sheet's "Data" section: its four data sets, with offline stand-ins where they need a download."""
    # Changed: mnist.load_data() downloads; Fashion-MNIST has the same shapes and is installed here.
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    # Changed: boston_housing.load_data() downloads: scikit-learn's diabetes data, also a small regression table.
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.model_selection import train_test_split
    x2, y2 = load_diabetes(return_X_y=True)
    x_train2, x_test2, y_train2, y_test2 = train_test_split(x2, y2, test_size=0.2, random_state=0)
    # Changed: cifar10 (170 MB) is left out: the sheet's CNN takes input_shape=x_train.shape[1:], the images above.
    if imdb_is_cached():
        (x_train4, y_train4), (x_test4, y_test4) = keras.datasets.imdb.load_data(num_words=20000)
        source = "imdb"
    else:  # Changed: imdb.npz is not cached, so synthetic reviews of the same form stand in for it.
        (x_train4, y_train4), (x_test4, y_test4) = synthetic_reviews(2000, 0), synthetic_reviews(1000, 1)
        source = "synthetic"
    num_classes = 10
    # Changed: the "Other" data (Pima Indians diabetes, read from a URL): 8 columns of scikit-learn's breast cancer
    # data and its label as the 9th, so that the sheet's slicing below reads it unchanged.
    cancer = load_breast_cancer()
    data = np.column_stack([cancer.data[:, :8], cancer.target])
    X = data[:, 0:8]
    y = data[:, 8]
    # The sheet's train_test_split(x, y, ...) names no data: the 8x8 digits here.
    x, y_digits = load_digits(return_X_y=True)
    x_train5, x_test5, y_train5, y_test5 = train_test_split(x, y_digits, test_size=0.33, random_state=42)
    if quick:  # a few hundred samples of each, to see every line run in seconds
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:256], y_test[:256]
        x_train4, y_train4, x_test4, y_test4 = x_train4[:32], y_train4[:32], x_test4[:32], y_test4[:32]
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test, "x_train2": x_train2,
            "y_train2": y_train2, "x_test2": x_test2, "y_test2": y_test2, "x_train4": x_train4, "y_train4": y_train4,
            "x_test4": x_test4, "y_test4": y_test4, "num_classes": num_classes, "X": X, "y": y, "source": source,
            "x_train5": x_train5, "x_test5": x_test5}


def basic_example(epochs):
    """The sheet's "A Basic Example": random data and random labels, so the accuracy is memorisation only."""
    data = np.random.random((1000, 100))
    labels = np.random.randint(2, size=(1000, 1))
    model = Sequential()
    model.add(Dense(32, activation='relu', input_dim=100))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['accuracy'])
    history = model.fit(data, labels, epochs=epochs, batch_size=32, verbose=0)
    predictions = model.predict(data, verbose=0)
    return {"first_loss": history.history["loss"][0], "last_loss": history.history["loss"][-1],
            "predictions_shape": list(predictions.shape)}


def binary_mlp(d, epochs):
    """The sheet's "MLP: Binary Classification", on its X, y, standardised as its "Standardization" section does."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X_train, X_test, y_train, y_test = train_test_split(d["X"], d["y"], test_size=0.33, random_state=42)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = Sequential()
    model.add(Dense(12, input_dim=8, kernel_initializer='uniform', activation='relu'))
    model.add(Dense(8, kernel_initializer='uniform', activation='relu'))
    model.add(Dense(1, kernel_initializer='uniform', activation='sigmoid'))
    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
    model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return {"test_accuracy": model.evaluate(X_test, y_test, verbose=0)[1]}


def multiclass_mlp(d, epochs):
    """The sheet's "MLP: Multi-Class Classification", on the images flattened to 784 pixels, labels one-hot encoded."""
    num_classes = d["num_classes"]
    Y_train = to_categorical(d["y_train"], num_classes)
    Y_test = to_categorical(d["y_test"], num_classes)
    # The sheet's input_shape=(784,) expects flat, scaled pixels.
    x_train, x_test = (d[name].reshape(-1, 784).astype("float32") / 255 for name in ("x_train", "x_test"))
    model = Sequential()
    model.add(Dense(512, activation='relu', input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation='relu'))
    model.add(Dropout(0.2))
    model.add(Dense(10, activation='softmax'))
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(x_train, Y_train, epochs=epochs, batch_size=32, verbose=0)
    # "Inspect Model"
    print("output shape:", model.output_shape)
    model.summary()
    config, weights = model.get_config(), model.get_weights()
    return {"test_accuracy": model.evaluate(x_test, Y_test, verbose=0)[1], "output_shape": list(model.output_shape),
            "config_layers": len(config["layers"]), "weight_tensors": len(weights)}


def regression_mlp(d, epochs):
    """The sheet's "MLP: Regression", on the standardised x_train2 of the sheet's "Standardization" section."""
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(d["x_train2"])
    standardized_X = scaler.transform(d["x_train2"])
    standardized_X_test = scaler.transform(d["x_test2"])
    train_data = standardized_X
    model = Sequential()
    model.add(Dense(64, activation='relu', input_dim=train_data.shape[1]))
    model.add(Dense(1))
    model.compile(optimizer='rmsprop', loss='mse', metrics=['mae'])
    model.fit(train_data, d["y_train2"], epochs=epochs, batch_size=32, verbose=0)
    return {"test_mae": model.evaluate(standardized_X_test, d["y_test2"], verbose=0)[1]}


def cnn(d, epochs):
    """The sheet's "Convolutional Neural Network (CNN)", model2, compiled as in its "Optimization Parameters"."""
    num_classes = d["num_classes"]
    x_train = d["x_train"][..., None].astype("float32") / 255  # images as (28, 28, 1): one colour channel
    x_test = d["x_test"][..., None].astype("float32") / 255
    Y_train, Y_test = to_categorical(d["y_train"], num_classes), to_categorical(d["y_test"], num_classes)
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
    # Changed: RMSprop(lr=0.0001, decay=1e-6); Keras 3 names it learning_rate and replaced `decay` by a schedule,
    # lr / (1 + decay * step), which is InverseTimeDecay.
    opt = RMSprop(learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.0001, decay_steps=1, decay_rate=1e-6))
    model2.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
    model2.fit(x_train, Y_train, batch_size=32, epochs=epochs, verbose=0)
    return {"test_accuracy": model2.evaluate(x_test, Y_test, verbose=0)[1]}


def rnn(d, epochs, out):
    """The sheet's "Recurrent Neural Network (RNN)" model3, from padding to early stopping, saving and reloading."""
    # "Sequence Padding"
    x_train4 = sequence.pad_sequences(d["x_train4"], maxlen=80)
    x_test4 = sequence.pad_sequences(d["x_test4"], maxlen=80)
    y_train4, y_test4 = d["y_train4"], d["y_test4"]
    model3 = Sequential()
    model3.add(Embedding(20000, 128))
    model3.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
    model3.add(Dense(1, activation='sigmoid'))
    model3.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    # "Model Training" (the sheet's verbose=1 prints a progress bar; 2 prints a line per epoch)
    model3.fit(x_train4, y_train4, batch_size=32, epochs=epochs, verbose=2, validation_data=(x_test4, y_test4))
    # "Evaluate Your Model's Performance". Changed: the sheet's x_test, y_test are the images; model3 reads x_test4.
    score = model3.evaluate(x_test4, y_test4, batch_size=32)
    # "Prediction"
    probabilities = model3.predict(x_test4, batch_size=32)
    # Changed: model3.predict_classes(x_test4, batch_size=32); Keras 3 removed predict_classes; for one sigmoid
    # output the class is the probability thresholded at 0.5.
    classes = (model3.predict(x_test4, batch_size=32) > 0.5).astype("int32")
    # "Save/ Reload Models". Changed: the sheet saves model_file.h5 but loads my_model.h5; it reloads the file saved.
    model3.save(str(out / 'model_file.h5'))
    my_model = load_model(str(out / 'model_file.h5'))
    model3.save(str(out / 'model_file.keras'))  # Keras 3's own format, beside the legacy .h5 of the sheet
    my_model_keras = load_model(str(out / 'model_file.keras'))
    reloaded_same = all(np.allclose(m.predict(x_test4, batch_size=32, verbose=0), probabilities, atol=1e-6)
                        for m in (my_model, my_model_keras))
    # "Early Stopping", plus a ModelCheckpoint (not on the sheet) that keeps the best epoch's model on disk.
    early_stopping_monitor = EarlyStopping(patience=2)
    checkpoint = ModelCheckpoint(str(out / 'best_model.keras'), save_best_only=True)
    history = model3.fit(x_train4, y_train4, batch_size=32, epochs=epochs, verbose=0,
                         validation_data=(x_test4, y_test4), callbacks=[early_stopping_monitor, checkpoint])
    return {"test_loss": score[0], "test_accuracy": score[1], "classes_agree": bool(
        np.array_equal(classes, (probabilities > 0.5).astype("int32"))), "reloaded_predictions_equal": reloaded_same,
        "early_stopping_epochs": len(history.history["loss"]), "early_stopping_max_epochs": epochs,
        "checkpoint_saved": (out / 'best_model.keras').is_file()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred samples and one or two epochs each")
    parser.add_argument("--out", default="example-output/cheat_sheet_unchanged", help="folder for saved models and "
                                                                                       "results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    d = load_sheet_data(args.quick)
    # The sheet's epochs where it gives them (10 for the basic example, 15 with early stopping for model3); where it
    # leaves them open, 100 for the small tabular MLPs, 5 for the image MLP and 1 for the CNN (a CPU run in minutes).
    epochs = (lambda full: 1 if args.quick else full)
    results = {
        "device": str(keras.config.device()), "rnn_data": d["source"],
        "train_test_split": [len(d["x_train5"]), len(d["x_test5"])],
        "basic_example": basic_example(2 if args.quick else 10),
        "binary_mlp": binary_mlp(d, 5 if args.quick else 100),
        "multiclass_mlp": multiclass_mlp(d, epochs(5)),
        "regression_mlp": regression_mlp(d, 5 if args.quick else 100),
        "cnn": cnn(d, epochs(1)),
        "rnn": rnn(d, epochs(15), out),
    }
    results["seconds"] = time.perf_counter() - started
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))

    print(f"\n{'cheat-sheet model':<44}{'result':>10}")
    rows = [("basic example, training loss first -> last", None),
            ("MLP binary (breast cancer), test accuracy", results["binary_mlp"]["test_accuracy"]),
            ("MLP multi-class (Fashion-MNIST), test accuracy", results["multiclass_mlp"]["test_accuracy"]),
            ("MLP regression (diabetes), test MAE", results["regression_mlp"]["test_mae"]),
            ("CNN model2 (Fashion-MNIST), test accuracy", results["cnn"]["test_accuracy"]),
            (f"LSTM model3 ({d['source']} reviews), test accuracy", results["rnn"]["test_accuracy"])]
    basic = results["basic_example"]
    for label, value in rows:
        shown = f"{basic['first_loss']:.3f} -> {basic['last_loss']:.3f}" if value is None else f"{value:.3f}"
        print(f"{label:<50}{shown:>16}")
    rnn_results = results["rnn"]
    print(f"saved and reloaded model3 (.h5 and .keras) predict the same: {rnn_results['reloaded_predictions_equal']}; "
          f"early stopping ran {rnn_results['early_stopping_epochs']} of {rnn_results['early_stopping_max_epochs']} "
          f"epochs; {results['seconds']:.1f} s on {results['device']}")
    return results


if __name__ == "__main__":
    main()
