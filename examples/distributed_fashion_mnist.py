"""Fashion-MNIST trained by one process or by several, with the same result.

    python examples/distributed_fashion_mnist.py --quick                        # one process
    torchrun --nproc-per-node 2 examples/distributed_fashion_mnist.py --quick   # two processes (CPU: gloo)
    torchrun --nproc-per-node 4 examples/distributed_fashion_mnist.py           # four GPUs (NCCL)
    torchrun --nproc-per-node 2 examples/distributed_fashion_mnist.py --quick --fsdp   # weights sharded (FSDP)

Nothing in the script is specific to several processes: under torchrun, `fit` splits every global batch of
`--batch-size` samples between the processes and averages their gradients, so the final weights are those of the
single-process run (up to the order of float additions), and both print the same checksum. Only rank 0 prints.
"""
import argparse

import numpy as np

import deepglass as keras


def build_model():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])


def checksum(weights):
    """The sum of the absolute values of every weight, in float64."""
    return sum(float(np.abs(w.astype(np.float64)).sum()) for w in weights)


def main(quick=False, epochs=None, batch_size=128, seed=0, verbose=2, fsdp=False):
    """Train and evaluate; returns the final weights (on every process). With `fsdp`, each process keeps only its
    share of the weights, gradients and optimizer state while it trains: the same steps, less memory."""
    if fsdp:
        keras.distribution.set_distribution(keras.distribution.FullyShardedDataParallel())
    keras.utils.set_random_seed(seed)  # the same initial weights on every process
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    if quick:
        (x_train, y_train), (x_test, y_test) = (x_train[:2000], y_train[:2000]), (x_test[:500], y_test[:500])
    x_train, x_test = x_train[..., None] / np.float32(255), x_test[..., None] / np.float32(255)
    model = build_model()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs or (2 if quick else 5), validation_split=0.1,
              verbose=verbose)
    _, accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    weights = model.get_weights()
    if keras.distribution.is_chief():  # every process has the same numbers; one prints them
        print(f"processes: {keras.distribution.num_processes()}  test accuracy: {accuracy:.4f}  "
              f"weights checksum: {checksum(weights):.4f}")
    return weights


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 training images and 2 epochs")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch, split between processes")
    parser.add_argument("--weights", default=None, help="save the final weights here (.npz, written by rank 0)")
    parser.add_argument("--fsdp", action="store_true", help="shard the weights over the processes (FSDP)")
    arguments = parser.parse_args()
    final = main(arguments.quick, arguments.epochs, arguments.batch_size, fsdp=arguments.fsdp)
    if arguments.weights and keras.distribution.is_chief():
        np.savez(arguments.weights, *final)
