"""The datasets of Keras's `keras.datasets`, offline first, plus scikit-learn's 8x8 digits and MNIST-1D.

Each module has Keras's `load_data(...)`, returning `(x_train, y_train), (x_test, y_test)` as NumPy arrays.
Files are looked up in the deepglass cache (`$DEEPGLASS_HOME/datasets`, by default `~/.deepglass/datasets`),
then in Keras's cache (`$KERAS_HOME/datasets`, by default `~/.keras/datasets`), then where a system package
installs them (Debian's `dataset-fashion-mnist`), and downloaded from Keras's origins only when missing;
every file is checked against its published checksum, and pickled files are read without unpickling.

Example:
>>> from deepglass.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
"""
from deepglass.datasets import (boston_housing, california_housing, cifar10, cifar100, digits, fashion_mnist, imdb,
                                mnist, mnist1d, reuters)
from deepglass.datasets._files import DatasetChecksumError, DatasetNotFoundError

__all__ = ["DatasetChecksumError", "DatasetNotFoundError", "boston_housing", "california_housing", "cifar10",
           "cifar100", "digits", "fashion_mnist", "imdb", "mnist", "mnist1d", "reuters"]
