"""load_digits: shipped file, shapes, dtypes, contents pinned by checksums, clear errors."""

import gzip
import hashlib

import numpy as np
import pytest

from tapegrad import datasets
from tapegrad.datasets import digits

# Pinned from the file copied out of scikit-learn 1.9.1 (see data/LICENSE-digits.txt),
# and cross-checked once against sklearn.datasets.load_digits().
FILE_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
PIXEL_SUM = 561718
LABEL_SUM = 8070
# Weights each pixel by its flat position, so a transposed or shuffled image changes it.
POSITION_WEIGHTED_SUM = 17660653
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
FIRST_IMAGE = [
    [0, 0, 5, 13, 9, 1, 0, 0],
    [0, 0, 13, 15, 10, 15, 5, 0],
    [0, 3, 15, 2, 0, 11, 8, 0],
    [0, 4, 12, 0, 0, 8, 8, 0],
    [0, 5, 8, 0, 0, 9, 8, 0],
    [0, 4, 11, 0, 1, 12, 7, 0],
    [0, 2, 14, 5, 10, 12, 0, 0],
    [0, 0, 6, 13, 10, 0, 0, 0],
]


@pytest.fixture(scope="module")
def digits_data():
    return datasets.load_digits()


def test_shipped_file_is_the_pinned_one():
    raw = digits._data_file().read_bytes()
    assert hashlib.sha256(raw).hexdigest() == FILE_SHA256


def test_licence_note_ships_beside_the_data():
    note = digits._data_file().parent.joinpath("LICENSE-digits.txt").read_text("utf-8")
    assert "CC BY 4.0" in note and "BSD 3-Clause" in note and FILE_SHA256 in note


def test_shapes_and_dtypes(digits_data):
    x, y = digits_data
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64


def test_flat_rows_match_images(digits_data):
    x_flat, y_flat = datasets.load_digits(return_images=False)
    assert x_flat.shape == (1797, 64) and x_flat.dtype == np.float32
    np.testing.assert_array_equal(x_flat, digits_data[0].reshape(1797, 64))
    np.testing.assert_array_equal(y_flat, digits_data[1])


def test_value_range_is_whole_counts_0_to_16(digits_data):
    x, _ = digits_data
    assert x.min() == 0 and x.max() == 16
    np.testing.assert_array_equal(x, np.round(x))


def test_labels_cover_ten_balanced_classes(digits_data):
    _, y = digits_data
    counts = np.bincount(y, minlength=10)
    assert counts.tolist() == CLASS_COUNTS
    assert counts.sum() == 1797 and all(170 <= c <= 190 for c in counts)


def test_checksums(digits_data):
    x, y = digits_data
    flat = x.reshape(1797, 64).astype(np.int64)
    assert int(flat.sum()) == PIXEL_SUM
    assert int(y.sum()) == LABEL_SUM
    assert int((flat * np.arange(64)).sum()) == POSITION_WEIGHTED_SUM
    assert y[:10].tolist() == list(range(10))
    np.testing.assert_array_equal(x[0], FIRST_IMAGE)


def test_deterministic_and_fresh_arrays(digits_data):
    x1, y1 = datasets.load_digits()
    np.testing.assert_array_equal(x1, digits_data[0])
    np.testing.assert_array_equal(y1, digits_data[1])
    x1[0, 0, 0] = 99.0
    y1[0] = 7
    x2, y2 = datasets.load_digits()
    assert x2[0, 0, 0] == 0.0 and y2[0] == 0


def test_missing_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(digits, "_data_file", lambda: tmp_path / "digits.csv.gz")
    with pytest.raises(FileNotFoundError, match="load_digits.*missing.*incomplete"):
        datasets.load_digits()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not gzip at all", "corrupt"),
        (gzip.compress(b"1,2,3\nfoo,bar,baz\n"), "corrupt"),
        (gzip.compress(b"1,2,3\n4,5,6\n"), r"shape \(1797, 65\)"),
        (gzip.compress(b"0," * 64 + b"12\n") * 1797, r"labels must lie in 0\.\.9"),
        (gzip.compress(b"17," * 64 + b"1\n") * 1797, r"pixel values must lie in 0\.\.16"),
    ],
    ids=["not-gzip", "not-numbers", "wrong-shape", "bad-label", "bad-pixel"],
)
def test_corrupt_file_is_a_clear_error(monkeypatch, tmp_path, content, message):
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(content)
    monkeypatch.setattr(digits, "_data_file", lambda: path)
    with pytest.raises(ValueError, match=message):
        datasets.load_digits()
