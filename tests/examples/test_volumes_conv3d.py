"""examples/volumes_conv3d.py at quick scale: the shapes have the volumes geometry gives them, the parameter count
follows from the layers, the summary is saved, the classifier beats chance."""
import json

import numpy as np

PNG = b"\x89PNG\r\n\x1a\n"


def test_shapes_have_their_volumes(load_example):
    """The volume inside each centred, unrotated object, counted on a fine grid over [-1, 1]^3, against the closed
    form."""
    example = load_example("volumes_conv3d")
    axis = (np.arange(96) + 0.5) / 96 * 2 - 1
    points, r = np.stack(np.meshgrid(axis, axis, axis, indexing="ij")), 0.6
    voxel = (2 / 96) ** 3
    expected = {"sphere": 4 / 3 * np.pi * r**3,
                "cube": (2 * 0.8 * r) ** 3,
                "torus": 2 * np.pi**2 * (0.65 * r) * (0.3 * r) ** 2,  # Pappus: 2 pi R * pi a^2
                "shell": 4 / 3 * np.pi * ((1.1 * r) ** 3 - (0.6 * r) ** 3)}
    for label, name in enumerate(example.CLASSES):
        inside = np.sum(example.signed_distance(label, points, r) > 0) * voxel
        assert abs(inside - expected[name]) < 0.03 * expected[name], name


def test_quick_run(load_example, tmp_path):
    results = load_example("volumes_conv3d").main(["--quick", "--out", str(tmp_path)])
    # Conv3D kernels 3x3x3 without bias, BatchNormalization 4 numbers per channel, Dense 32 -> 4 with bias.
    convolutions = 27 * (1 * 8 + 8 * 16 + 16 * 32)
    assert results["parameters"] == convolutions + 4 * (8 + 16 + 32) + 32 * 4 + 4
    assert results["test_accuracy"] > results["chance_accuracy"]
    summary = (tmp_path / "summary.txt").read_text()
    assert "Conv3D" in summary and "MaxPooling3D" in summary and f"{results['parameters']:,}" in summary
    for name in ("slices.png", "learning_curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text()) == results
