"""The hardening cases run in forked children (see `forked`): whatever a child imports on first use it imports
again in every child, so it is imported once here, in the parent."""
import os
import pathlib
import shutil
import tempfile

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def imported_before_forking():
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)
    pytest.importorskip("h5py")
    pytest.importorskip("safetensors.torch")


@pytest.fixture
def shared_folder():
    """A folder that a child without root's permissions can reach (pytest's tmp_path is private to its user)."""
    folder = tempfile.mkdtemp(prefix="deepglass-hardening-")
    os.chmod(folder, 0o755)
    yield pathlib.Path(folder)
    for root, dirs, _ in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(folder)
