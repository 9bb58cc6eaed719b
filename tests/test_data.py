"""Datasets: the digits split, and every on-disk format written here in its real layout."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from codesign.data import (
    DATASETS,
    Dataset,
    data_dir,
    dataset_for_shape,
    default_dataset_for,
    load_dataset,
)
from codesign.errors import CodesignError, DatasetError

# --------------------------------------------------------------------------- writers


def file_train(d: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The file's training set as it was read: train and val put back in their rows."""
    n = len(d.x_train) + len(d.x_val)
    held = np.zeros(n, dtype=bool)
    held[d.val_rows] = True
    x = np.empty((n, *d.x_train.shape[1:]), dtype=d.x_train.dtype)
    y = np.empty(n, dtype=d.y_train.dtype)
    x[held], y[held] = d.x_val, d.y_val
    x[~held], y[~held] = d.x_train, d.y_train
    return x, y


def write_idx(path: Path, arr: np.ndarray) -> None:
    """Write an unsigned-byte IDX file (gzip when the name ends in .gz), as MNIST ships."""
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    blob = header + arr.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)


def write_mnist(directory: Path, rng: np.random.Generator, n_train: int = 6, n_test: int = 4):
    """Train files gzipped, test files raw: both spellings in one directory."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    write_idx(directory / "train-images-idx3-ubyte.gz", arrays["x_train"])
    write_idx(directory / "train-labels-idx1-ubyte.gz", arrays["y_train"])
    write_idx(directory / "t10k-images-idx3-ubyte", arrays["x_test"])
    write_idx(directory / "t10k-labels-idx1-ubyte", arrays["y_test"])
    return arrays


def write_cifar(directory: Path, rng: np.random.Generator, per_batch: int = 3):
    """The python-version layout: cifar-10-batches-py/data_batch_1..5 and test_batch."""
    batches = directory / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(batches / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f, 2)
        written[name] = (data, labels)
    return written


def write_svhn(directory: Path, rng: np.random.Generator):
    from scipy.io import savemat

    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, n in (("train_32x32.mat", 5), ("test_32x32.mat", 3)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = np.array([[10], [1], [9], [10], [3]][:n], dtype=np.uint8)
        savemat(directory / name, {"X": x, "y": y})
        written[name] = (x, y)
    return written


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --------------------------------------------------------------------------- digits


def test_digits_shapes_dtypes_range() -> None:
    d = load_dataset("digits")
    assert isinstance(d, Dataset)
    assert len(d.x_train) + len(d.x_val) == 1438 and d.x_test.shape == (359, 1, 8, 8)
    assert d.x_train.shape[1:] == d.x_val.shape[1:] == (1, 8, 8)
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.x_test.min() >= 0.0 and d.x_test.max() <= 1.0
    # values are k/16: exactly representable, so the bytes are the same everywhere
    assert np.array_equal(d.x_train * 16, np.round(d.x_train * 16))


def test_digits_split_is_deterministic_and_pinned() -> None:
    a, b = load_dataset("digits"), load_dataset("digits")
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    h = hashlib.sha256(a.x_test.tobytes() + a.y_test.tobytes()).hexdigest()[:16]
    assert h == "3f92cf0d60eb78bb", "the digits split changed: every cached result moves"


def test_digits_split_is_stratified_and_disjoint() -> None:
    d = load_dataset("digits")
    train_counts = np.bincount(np.concatenate([d.y_train, d.y_val]), minlength=10)
    test_counts = np.bincount(d.y_test, minlength=10)
    for tr, te in zip(train_counts, test_counts, strict=True):
        assert abs(te - 0.2 * (tr + te)) <= 0.5
    train_rows = {r.tobytes() + bytes([y]) for r, y in zip(d.x_train, d.y_train, strict=True)}
    test_rows = {r.tobytes() + bytes([y]) for r, y in zip(d.x_test, d.y_test, strict=True)}
    # a handful of digits images are exact duplicates in sklearn's data; the split is by index
    assert len(train_rows & test_rows) <= 3


def test_validation_split_is_carved_from_train_only() -> None:
    """val comes out of the training data, stratified and seeded, and never holds a test
    image: selection on val cannot see the test set."""
    d = load_dataset("digits")
    val_counts = np.bincount(d.y_val, minlength=10)
    train_counts = np.bincount(d.y_train, minlength=10)
    for tr, va in zip(train_counts, val_counts, strict=True):
        assert va > 0 and abs(va - 0.1 * (tr + va)) <= 0.5
    x_file, y_file = file_train(d)
    full = load_digits_file_order()
    np.testing.assert_array_equal(x_file, full[0])  # train + val is exactly the file's train
    np.testing.assert_array_equal(y_file, full[1])
    test_rows = {r.tobytes() for r in d.x_test}
    assert sum(r.tobytes() in test_rows for r in d.x_val) <= 3  # sklearn's own duplicates
    again = load_dataset("digits")
    np.testing.assert_array_equal(again.val_rows, d.val_rows)


def load_digits_file_order() -> tuple[np.ndarray, np.ndarray]:
    """The digits train split before validation is carved (an npz with its own val
    keeps everything it gives as train)."""
    from sklearn.datasets import load_digits

    from codesign.data import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, _stratified_split

    raw = load_digits()
    tr, _ = _stratified_split(raw.target, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    return (raw.images.astype(np.float32) / 16.0)[tr][:, None], raw.target[tr]


# --------------------------------------------------------------------------- MNIST (IDX)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_dataset_from_root(tmp_path: Path, rng, name: str) -> None:
    arrays = write_mnist(tmp_path, rng)
    d = load_dataset(name, root=tmp_path)
    x_train, y_train = file_train(d)
    assert x_train.shape == (6, 1, 28, 28) and d.x_test.shape == (4, 1, 28, 28)
    assert d.x_train.dtype == np.float32 and d.y_test.dtype == np.int64
    np.testing.assert_array_equal(x_train[:, 0], arrays["x_train"].astype(np.float32) / 255)
    np.testing.assert_array_equal(d.x_test[:, 0], arrays["x_test"].astype(np.float32) / 255)
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(d.y_test, arrays["y_test"])
    assert d.num_classes == 10


def test_idx_directory_as_spec(tmp_path: Path, rng) -> None:
    arrays = write_mnist(tmp_path / "mine", rng)
    d = load_dataset(str(tmp_path / "mine"))
    assert d.input_shape == (1, 28, 28)
    np.testing.assert_array_equal(d.y_test, arrays["y_test"])


def test_data_env_and_xdg_locations(tmp_path: Path, rng, monkeypatch) -> None:
    write_mnist(tmp_path / "envdata" / "mnist", rng)
    monkeypatch.setenv("CODESIGN_DATA", str(tmp_path / "envdata"))
    d = load_dataset("mnist")
    assert len(d.x_train) + len(d.x_val) == 6
    monkeypatch.delenv("CODESIGN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir("svhn") == tmp_path / "xdg" / "codesign" / "data" / "svhn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir("svhn") == Path.home() / ".cache" / "codesign" / "data" / "svhn"
    assert data_dir("svhn", tmp_path) == tmp_path


def test_idx_missing_files_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", root=tmp_path)
    msg = str(err.value)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert stem in msg
    assert str(tmp_path) in msg and "MNIST database" in msg and "never downloads" in msg


def test_idx_truncated_file_refused(tmp_path: Path, rng) -> None:
    write_mnist(tmp_path, rng)
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.*truncated"):
        load_dataset("mnist", root=tmp_path)


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar10_batches(tmp_path: Path, rng) -> None:
    written = write_cifar(tmp_path, rng)
    for d in (load_dataset("cifar10", root=tmp_path), load_dataset(str(tmp_path))):
        x_train, y_train = file_train(d)
        assert x_train.shape == (15, 3, 32, 32) and d.x_test.shape == (3, 3, 32, 32)
        first, labels = written["data_batch_1"]
        # CIFAR rows are 1024 red, then 1024 green, then 1024 blue values, row-major
        assert x_train[0, 1, 2, 3] == np.float32(first[0, 1024 + 2 * 32 + 3]) / np.float32(255)
        np.testing.assert_array_equal(
            x_train[:3], first.reshape(3, 3, 32, 32).astype(np.float32) / 255
        )
        assert y_train[:3].tolist() == labels
        assert d.y_test.tolist() == written["test_batch"][1]
        assert d.x_train.max() <= 1.0


def test_cifar10_missing_batch_named(tmp_path: Path, rng) -> None:
    write_cifar(tmp_path, rng)
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_4")
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", root=tmp_path)
    msg = str(err.value)
    assert "data_batch_4" in msg and "data_batch_3" not in msg
    assert str(tmp_path / "cifar-10-batches-py") in msg and "CIFAR-10" in msg


def test_cifar10_pickle_with_code_refused(tmp_path: Path, rng) -> None:
    write_cifar(tmp_path, rng)

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    with pytest.raises(DatasetError, match="test_batch.*not allowed"):
        load_dataset("cifar10", root=tmp_path)


# --------------------------------------------------------------------------- SVHN


def test_svhn_mat_files(tmp_path: Path, rng) -> None:
    written = write_svhn(tmp_path, rng)
    for d in (load_dataset("svhn", root=tmp_path), load_dataset(str(tmp_path))):
        x, y = written["train_32x32.mat"]
        x_train, y_train = file_train(d)
        assert x_train.shape == (5, 3, 32, 32) and d.x_test.shape == (3, 3, 32, 32)
        # X is (H, W, C, N): sample n, channel c, row h, column w
        assert x_train[4, 2, 7, 30] == np.float32(x[7, 30, 2, 4]) / np.float32(255)
        np.testing.assert_array_equal(x_train, x.transpose(3, 2, 0, 1).astype(np.float32) / 255)
        assert y_train.tolist() == [0, 1, 9, 0, 3]  # label 10 is the digit 0
        assert d.y_test.tolist() == [0, 1, 9]
        assert d.num_classes == 10


def test_svhn_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("svhn", root=tmp_path)
    assert "train_32x32.mat" in str(err.value) and "test_32x32.mat" in str(err.value)
    assert str(tmp_path) in str(err.value)


# --------------------------------------------------------------------------- npz, names


def test_npz_dataset(tmp_path: Path, rng) -> None:
    arrays = {
        "x_train": rng.random((7, 2, 5, 5)).astype(np.float64),
        "y_train": np.array([0, 1, 2, 0, 1, 2, 0]),
        "x_test": rng.random((2, 2, 5, 5)),
        "y_test": np.array([2, 1]),
    }
    np.savez(tmp_path / "mine.npz", **arrays)
    d = load_dataset(str(tmp_path / "mine.npz"))
    assert d.name == "mine" and d.input_shape == (2, 5, 5) and d.num_classes == 3
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.x_test, arrays["x_test"].astype(np.float32))


def test_npz_with_its_own_validation_split(tmp_path: Path, rng) -> None:
    x = rng.random((4, 1, 3, 3))
    np.savez(tmp_path / "v.npz", x_train=x, y_train=[0, 1, 0, 1], x_test=x[:2], y_test=[0, 1],
             x_val=x[:1], y_val=[1])
    d = load_dataset(str(tmp_path / "v.npz"))
    assert len(d.x_train) == 4 and d.y_val.tolist() == [1] and d.val_rows.size == 0
    np.savez(tmp_path / "half.npz", x_train=x, y_train=[0, 1, 0, 1], x_test=x, y_test=[0] * 4,
             x_val=x[:1])
    with pytest.raises(DatasetError, match="x_val but not its pair"):
        load_dataset(str(tmp_path / "half.npz"))


def test_npz_missing_array_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 1, 4, 4)), y_train=np.zeros(2, int))
    with pytest.raises(DatasetError, match="missing array.*x_test, y_test"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_npz_wrong_rank_refused(tmp_path: Path) -> None:
    z = np.zeros((2, 16))
    np.savez(tmp_path / "flat.npz", x_train=z, y_train=[0, 1], x_test=z, y_test=[1, 0])
    with pytest.raises(DatasetError, match=r"x_train has shape \(2, 16\).*\(N, C, H, W\)"
                                           r".*\(N, C, L\)"):
        load_dataset(str(tmp_path / "flat.npz"))


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("imagenet")
    for name in DATASETS:
        assert name in str(err.value)


def test_unrecognised_directory_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="holds no dataset codesign recognises"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(str(tmp_path / "nope"))


# --------------------------------------------------------------------------- by shape


def test_default_dataset_for_shape() -> None:
    assert default_dataset_for((1, 8, 8)) == "digits"
    assert default_dataset_for((1, 28, 28)) == "mnist"
    assert default_dataset_for((3, 32, 32)) == "cifar10"
    assert default_dataset_for((3, 64, 64)) is None


def test_dataset_for_shape() -> None:
    assert dataset_for_shape(None, (1, 8, 8)).name == "digits"
    with pytest.raises(CodesignError) as err:
        dataset_for_shape(None, (3, 64, 64))
    assert str(err.value) == (
        "no built-in dataset fits input shape 3,64,64; pass --dataset NAME|PATH"
    )
    with pytest.raises(DatasetError) as err:
        dataset_for_shape("digits", (1, 28, 28))
    assert "1,8,8" in str(err.value) and "1,28,28" in str(err.value)


def test_shapes32_is_generated_the_same_every_time() -> None:
    """The built-in real-size dataset ships as code: CIFAR-shaped, ten balanced classes,
    values in [0, 1], identical on every load (frozen RandomState), train/test disjoint."""
    from codesign.shapes import generate

    a, b = load_dataset("shapes32"), load_dataset("shapes32")
    assert a.input_shape == (3, 32, 32) and a.num_classes == 10
    assert len(a.x_train) + len(a.x_val) == 5000 and len(a.x_test) == 1000
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    assert np.bincount(a.y_test).tolist() == [100] * 10
    x, y = generate(3, seed=11)
    x2, _ = generate(3, seed=11)
    assert np.array_equal(x, x2) and not np.array_equal(x, generate(3, seed=12)[0])
    assert not any(np.array_equal(t, a.x_train[0]) for t in a.x_test)
