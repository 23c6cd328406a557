"""examples/gradcam_feature_maps.py at quick scale: it learns, maps have the layers' shapes, pictures exist."""


def test_quick_run(load_example, tmp_path):
    results = load_example("gradcam_feature_maps").main(["--quick", "--out", str(tmp_path)])
    assert results["test_accuracy"] > 0.15  # ten classes: chance is 0.1
    # 'same' 3x3 convolutions keep the size; each 2x2 max-pooling halves it
    assert results["feature_map_shapes"] == {"conv1": [28, 28, 32], "conv2": [14, 14, 64], "conv3": [7, 7, 128]}
    assert set(results["probability_drop_after_occlusion"]) == {"grad_cam", "saliency", "random_square"}
    for name in ("filters.png", "feature_maps.png", "gradcam.png", "gradcam_classes.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
