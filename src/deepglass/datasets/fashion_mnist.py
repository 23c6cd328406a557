"""Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 28x28 grayscale, 10 classes.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
"""
import gzip

import numpy as np

from deepglass.datasets import _files

ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist package
# Per file: the md5 Zalando publishes, the md5 of Debian's recompressed copy, and the sha256 of the gunzipped
# data, which accepts any other faithful recompression.
_FILES = {
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", "10bea18fdb374794d4bb42e356e600c9",
                                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "cf8536b0aa1a6ac5fa3f23001093305c",
                                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", "0d30e22e447f3c33dab9ed536400ac01",
                                  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", "f78720b4224f21cce2f2ccf2d7a94c9a",
                                  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
}
RESOURCES = {
    name: _files.Resource(name=name, origin=ORIGIN_FOLDER + name, hashes=(published, debian),
                          subdir="fashion-mnist", system_dirs=(SYSTEM_DIR,), package="dataset-fashion-mnist",
                          gzip_sha256=content)
    for name, (published, debian, content) in _FILES.items()
}


def load_data():
    """Load Fashion-MNIST as Keras does: `(x_train, y_train), (x_test, y_test)`.

    The four gzipped IDX files are taken from the deepglass cache, then Keras's cache
    (`~/.keras/datasets/fashion-mnist/`), then Debian's `dataset-fashion-mnist` package
    (`/usr/share/datasets/fashion-mnist`), and downloaded (30 MB, checksums verified) only when none has them.

    Returns `x_train` uint8 `(60000, 28, 28)` (pixels 0-255), `y_train` uint8 `(60000,)` (labels 0-9),
    `x_test` uint8 `(10000, 28, 28)` and `y_test` uint8 `(10000,)`.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = deepglass.datasets.fashion_mnist.load_data()
    >>> x_train.shape, y_test.shape
    ((60000, 28, 28), (10000,))
    """
    y_train, x_train, y_test, x_test = (read_idx(_files.fetch(resource, "fashion_mnist.load_data()"))
                                        for resource in RESOURCES.values())
    return (x_train, y_train), (x_test, y_test)


def read_idx(path):
    """Read a gzipped IDX file (unsigned bytes): labels give a 1-D array, images an `(n, rows, cols)` array."""
    with open(path, "rb") as file:
        data = gzip.decompress(file.read())
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or not 1 <= data[3] <= 3:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (its header is {data[:4].hex()}); replace it "
                         "with a good copy.")
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    offset = 4 + 4 * rank
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(f"{path} holds {len(data) - offset} values where its header promises shape {shape}; "
                         "replace it with a good copy.")
    return np.frombuffer(bytearray(data), np.uint8, offset=offset).reshape(shape)  # bytearray: writable
