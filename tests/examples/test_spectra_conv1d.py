"""examples/spectra_conv1d.py at quick scale: lines sit where the redshift puts them, the classifier beats chance,
the pictures exist."""
import json

import numpy as np

PNG = b"\x89PNG\r\n\x1a\n"


def test_lines_are_redshifted(load_example):
    """In a nearly noiseless spectrum, each unblended line's extreme pixel lies within a pixel of
    lambda_rest * (1 + z)."""
    example = load_example("spectra_conv1d")
    pixel = example.WAVELENGTH[1] - example.WAVELENGTH[0]
    rng = np.random.default_rng(0)
    for label, kind in enumerate(example.CLASSES):
        z = 0.0 if kind == "star" else 0.31
        flux = example.spectrum(label, z, snr=1e4, rng=rng)
        centres = [line[1] for line in example.LINES[kind]]
        for _, rest, sign, *_ in example.LINES[kind]:
            observed = rest * (1 + z)
            blended = any(0 < abs(other - rest) * (1 + z) < 5 * pixel for other in centres)  # e.g. H-alpha + [NII]
            if blended or not example.WAVELENGTH[0] + 30 < observed < example.WAVELENGTH[-1] - 30:
                continue
            window = np.abs(example.WAVELENGTH - observed) < 3 * pixel  # the line's neighbourhood, 7 pixels wide
            wavelengths, values = example.WAVELENGTH[window], flux[window]
            extreme = wavelengths[np.argmax(values) if sign > 0 else np.argmin(values)]
            assert abs(extreme - observed) <= pixel, (kind, rest)


def test_redshift_scores_formula(load_example):
    scores = load_example("spectra_conv1d").redshift_scores(np.array([0.1, 0.2, 0.5]), np.array([0.11, 0.2, 0.4]))
    dz = np.array([0.01 / 1.1, 0.0, -0.1 / 1.5])
    assert np.isclose(scores["mae"], 0.11 / 3)
    assert np.isclose(scores["sigma_nmad"], 1.4826 * np.median(np.abs(dz - np.median(dz))))
    assert np.isclose(scores["outlier_fraction"], 1 / 3)


def test_quick_run(load_example, tmp_path):
    results = load_example("spectra_conv1d").main(["--quick", "--out", str(tmp_path)])
    assert results["classification_accuracy"] > 2 * results["chance_accuracy"]
    assert all(np.isfinite(value) for value in results["redshift"].values())
    for name in ("spectra.png", "filters.png", "confusion.png", "redshift.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text()) == results
