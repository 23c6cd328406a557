"""Sequences and text: MNIST-1D's four models against the paper, and word order in a text classifier.

Part 1 trains the four models of the MNIST-1D paper (Greydanus, 2020; logistic regression, MLP, 1-D CNN and GRU,
from `examples/mnist1d_models.py`) and prints each test accuracy beside the paper's (32 / 68 / 94 / 91 %).
Part 2 classifies generated movie-review sentences whose sentiment depends on word order ("the plot was dull but the
acting was superb" is positive; swap the clauses and it is negative): a bag-of-words model against an Embedding + LSTM
and a Transformer encoder, all fed by `TextVectorization`. Look at `mnist1d.png` (signals and accuracies) and
`text_accuracy.png` (accuracy per kind of sentence: bag of words stays at chance on the "but" sentences).
"""
import argparse
import json
import pathlib
import sys
import time

import matplotlib

matplotlib.use("Agg")  # draw to files, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import deepglass as keras  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the examples folder, for mnist1d_models
import mnist1d_models  # noqa: E402

ASPECTS = ["plot", "acting", "music", "ending", "dialogue", "camera work", "story", "cast", "pacing", "script"]
POSITIVE = ["great", "superb", "moving", "brilliant", "clever", "wonderful", "fresh", "gripping"]
NEGATIVE = ["dull", "awful", "clumsy", "boring", "weak", "tedious", "bland", "messy"]
KINDS = ["plain", "negated", "contrast", "contrast_negated"]
SEQUENCE_LENGTH = 16


# ------------------------------------------------------------------------------------------------ part 1: MNIST-1D
def train_mnist1d(data, epochs):
    """Each of the paper's models (built by `mnist1d_models.build`) trained as the paper does: Adam at 0.01, batches
    of 100. Returns `{name: (test accuracy, seconds)}`."""
    (x_train, y_train), (x_test, y_test) = data
    results = {}
    for name in mnist1d_models.PAPER:
        keras.utils.set_random_seed(0)
        model = mnist1d_models.build(name)
        begin = time.perf_counter()
        model.fit(x_train, y_train, batch_size=100, epochs=epochs, verbose=0)
        _, accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[name] = (float(accuracy), time.perf_counter() - begin)
        print(f"{name:>9}: test accuracy {accuracy:6.1%} (paper {mnist1d_models.PAPER[name]:.0%}), "
              f"{results[name][1]:.1f} s", flush=True)
    return results


def plot_mnist1d(x_train, y_train, results, out):
    """Left: one training signal of each digit. Right: our test accuracy against the paper's."""
    figure, (signal_axis, bar_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for digit in range(10):
        signal = x_train[np.flatnonzero(y_train == digit)[0]]
        signal_axis.plot(signal - 3 * digit, color=plt.cm.tab10(digit))
    signal_axis.set_yticks(-3 * np.arange(10), [str(d) for d in range(10)])
    signal_axis.set_ylabel("digit")
    signal_axis.set_xlabel("step")
    signal_axis.set_title("One MNIST-1D training signal per digit")
    names = list(results)
    positions = np.arange(len(names))
    bar_axis.bar(positions - 0.2, [results[n][0] for n in names], 0.4, color="#0072B2", label="deepglass")
    bar_axis.bar(positions + 0.2, [mnist1d_models.PAPER[n] for n in names], 0.4, color="#999999", label="paper")
    bar_axis.set_xticks(positions, names)
    bar_axis.set_ylim(0, 1)
    bar_axis.set_ylabel("test accuracy")
    bar_axis.set_title("MNIST-1D test accuracy")
    bar_axis.legend()
    bar_axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(out / "mnist1d.png", dpi=100)
    plt.close(figure)


# ---------------------------------------------------------------------------------------------------- part 2: text
def sentence(kind, rng):
    """A review sentence of the given kind and its label (1 positive, 0 negative).

    plain: "the plot was great" -> the adjective. negated: "the plot was not great" -> the opposite.
    contrast: "the plot was dull but the acting was great" -> the clause after "but" (adjectives of opposite
    sentiment, so the words alone do not tell). contrast_negated: "... but the acting was not great" -> the opposite
    of the last adjective (both adjectives of the same sentiment).
    """
    def clause(negated=False):
        positive = rng.random() < 0.5
        adjective = rng.choice(POSITIVE if positive else NEGATIVE)
        text = f"the {rng.choice(ASPECTS)} was {'not ' if negated else ''}{adjective}"
        return text, positive != negated

    if kind in ("plain", "negated"):
        text, label = clause(kind == "negated")
        return text, label
    while True:  # draw until the clauses are as the kind requires
        first, first_label = clause()
        second, second_label = clause(kind == "contrast_negated")
        if first_label != second_label:
            return f"{first} but {second}", second_label


def make_sentences(count, seed):
    """`count` sentences, the four kinds in equal numbers: texts, labels and kinds as arrays."""
    rng = np.random.default_rng(seed)
    kinds = np.array([KINDS[i % len(KINDS)] for i in range(count)])
    texts, labels = zip(*(sentence(kind, rng) for kind in kinds))
    return np.array(texts), np.array(labels, dtype="float32"), kinds


def bag_of_words(vocabulary_size):
    """Which words occur, not where: multi-hot vectors into a small MLP."""
    return keras.Sequential([
        keras.Input((vocabulary_size,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="bag_of_words")


def lstm(vocabulary_size):
    """Word vectors read in order, both ways, by an LSTM; padding (index 0) is masked out."""
    return keras.Sequential([
        keras.Input((SEQUENCE_LENGTH,), dtype="int64"),
        keras.layers.Embedding(vocabulary_size, 32, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.LSTM(32)),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="lstm")


def transformer(vocabulary_size):
    """Word and position embeddings, one Transformer encoder block (self-attention), averaged over the words."""
    inputs = keras.Input((SEQUENCE_LENGTH,), dtype="int64")
    x = keras.layers.TokenAndPositionEmbedding(vocabulary_size, SEQUENCE_LENGTH, 32, mask_zero=True)(inputs)
    x = keras.layers.TransformerEncoder(intermediate_dim=64, num_heads=2)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="transformer")


def text_models(train, test, epochs):
    """Train the three models; returns per model the test accuracy per kind of sentence, and the LSTM with its
    vectorizer."""
    (train_texts, train_labels, _), (test_texts, test_labels, test_kinds) = train, test
    to_indices = keras.layers.TextVectorization(output_sequence_length=SEQUENCE_LENGTH)
    to_indices.adapt(train_texts)
    to_multi_hot = keras.layers.TextVectorization(output_mode="multi_hot")
    to_multi_hot.adapt(train_texts)
    results, trained = {}, {}
    for build, vectorizer in ((bag_of_words, to_multi_hot), (lstm, to_indices), (transformer, to_indices)):
        keras.utils.set_random_seed(0)
        model = build(vectorizer.vocabulary_size())
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(vectorizer(train_texts), train_labels, batch_size=64, epochs=epochs, verbose=0)
        correct = (model.predict(vectorizer(test_texts), verbose=0)[:, 0] > 0.5) == (test_labels > 0.5)
        results[model.name] = {kind: float(correct[test_kinds == kind].mean()) for kind in KINDS}
        results[model.name]["all"] = float(correct.mean())
        trained[model.name] = model
    # A model that takes raw strings: the vectorizer becomes its first layer.
    end_to_end = keras.Sequential([keras.Input((1,), dtype="string"), to_indices, trained["lstm"]])
    return results, end_to_end


def plot_text(results, out):
    figure, axis = plt.subplots(figsize=(8, 4))
    kinds = KINDS + ["all"]
    positions = np.arange(len(kinds))
    for offset, (name, colour) in zip((-0.27, 0, 0.27), zip(results, ("#999999", "#0072B2", "#E69F00"))):
        axis.bar(positions + offset, [results[name][k] for k in kinds], 0.27, color=colour, label=name)
    axis.axhline(0.5, color="#D55E00", linestyle=":", label="chance")
    axis.set_xticks(positions, kinds)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("test accuracy")
    axis.set_title("Sentiment of generated reviews, by kind of sentence")
    axis.legend(fontsize=8, loc="lower left")
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(out / "text_accuracy.png", dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one or two epochs on little data, to see it run")
    parser.add_argument("--out", default="example-output/sequences_and_text", help="folder for pictures and results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    print("Part 1: MNIST-1D, the paper's four models")
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist1d.load_data()  # 4000 and 1000 signals of 40 steps
    if args.quick:
        (x_train, y_train), (x_test, y_test) = (x_train[:500], y_train[:500]), (x_test[:200], y_test[:200])
    # The paper's budget: 6000 steps of 100 signals, i.e. 150 epochs of the 4000 training signals.
    mnist1d = train_mnist1d(((x_train, y_train), (x_test, y_test)), epochs=1 if args.quick else 150)
    plot_mnist1d(x_train, y_train, mnist1d, out)

    print("\nPart 2: sentiment of generated review sentences")
    train = make_sentences(400 if args.quick else 8000, seed=0)
    test = make_sentences(200 if args.quick else 2000, seed=1)
    text, end_to_end = text_models(train, test, epochs=1 if args.quick else 20)
    plot_text(text, out)
    examples = ["the acting was dull but the music was superb", "the music was superb but the acting was dull",
                "the story was not boring"]
    scores = end_to_end.predict(np.array(examples)[:, None], verbose=0)[:, 0]

    results = {"mnist1d": {name: {"test_accuracy": acc, "paper": mnist1d_models.PAPER[name], "seconds": seconds}
                           for name, (acc, seconds) in mnist1d.items()},
               "text_accuracy": text, "train_sentences": len(train[0]),
               "lstm_on_new_sentences": dict(zip(examples, scores.astype(float).tolist())),
               "device": str(keras.config.device()), "seconds": time.perf_counter() - start}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'MNIST-1D':<14}{'test acc':>9}{'paper':>7}")
    for name, row in results["mnist1d"].items():
        print(f"{name:<14}{row['test_accuracy']:>9.1%}{row['paper']:>7.0%}")
    print(f"\n{'text':<14}" + "".join(f"{kind:>18}" for kind in KINDS + ["all"]))
    for name, row in text.items():
        print(f"{name:<14}" + "".join(f"{row[kind]:>18.1%}" for kind in KINDS + ["all"]))
    print("\nThe LSTM, given raw strings (probability of a positive review):")
    for sentence_text, score in results["lstm_on_new_sentences"].items():
        print(f"  {score:.2f}  {sentence_text}")
    return results


if __name__ == "__main__":
    main()
