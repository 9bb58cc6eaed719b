"""Datasets as plain numpy arrays, loaded from local files only.

Every stage downstream (training, sensitivity, calibration, bit-exact checks) wants the
same thing: float32 NCHW images already scaled the way the model expects, and int64
labels. This module turns the common on-disk formats into exactly that and nothing
more. It never downloads: a missing file is a :class:`DatasetError` that names the
file, the directory it belongs in and where to obtain it.

Every dataset has three splits. ``test`` is the file's own test set and is only for the
figures we report. ``val`` is carved from the training data (stratified, seeded,
:data:`VAL_FRACTION` of every class) and is what anything that selects or tunes reads
(calibration choices, probe importance, early stopping, the allocator's accuracy). ``train``
is the rest. An ``.npz`` may bring its own ``x_val``/``y_val``; then nothing is carved.

Built-in names (see :data:`DATASETS`):

- ``digits``: scikit-learn's 8x8 digits (shipped inside scikit-learn), values 0..16
  divided by 16, shape (N, 1, 8, 8); a fixed stratified 80/20 split (seed 0).
- ``mnist``, ``fashion_mnist``: the four IDX files (raw or ``.gz``), /255, (N, 1, 28, 28).
- ``cifar10``: the "CIFAR-10 python version" batches, /255, (N, 3, 32, 32). No
  per-channel mean/std normalisation: [0, 1] keeps the input fixed-point type simple.
- ``shapes32``: generated 32x32 RGB figures and patterns in ten classes (codesign.shapes),
  shipped as code: 5,000 train and 1,000 test images in [0, 1], (N, 3, 32, 32).
- ``svhn``: the cropped-digits ``train_32x32.mat`` / ``test_32x32.mat``, /255,
  (N, 3, 32, 32); label 10 (digit 0) becomes 0.

Where files are looked for, first match wins: the ``root`` argument (the dataset's own
directory), else ``$CODESIGN_DATA/<name>/``, else ``$XDG_CACHE_HOME/codesign/data/<name>/``
(``~/.cache/codesign/data/<name>/`` when XDG_CACHE_HOME is unset).

A spec may also be a path: a directory recognised by its files (IDX files -> MNIST
format, ``cifar-10-batches-py`` or ``data_batch_1`` -> CIFAR-10, ``*_32x32.mat`` ->
SVHN), or an ``.npz`` file holding ``x_train``, ``y_train``, ``x_test``, ``y_test``.
The npz samples must already be float NCHW (NCL for a Conv1d model), scaled as the model
expects (they are only cast to float32); labels are integers 0..K-1 and num_classes is
the largest label + 1.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError, DatasetError
from codesign.finite import describe_nonfinite

DATA_ENV = "CODESIGN_DATA"
"""Environment variable naming a directory that holds one sub-directory per dataset."""

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
VAL_FRACTION = 0.1
"""Share of every class of the training data held out as the validation split."""
VAL_SPLIT_SEED = 1


@dataclass(frozen=True)
class Dataset:
    """Train / validation / test splits as arrays, ready to feed a model (no scaling needed).

    Select and tune on ``val``; ``test`` is only for reported figures.
    """

    name: str
    x_train: np.ndarray  # float32, NCHW (NCL for a Conv1d model)
    y_train: np.ndarray  # int64
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    x_val: np.ndarray
    y_val: np.ndarray
    val_rows: np.ndarray  # rows of the file's training set held out as val (empty if given)
    source: str = ""  # what load_dataset reads it from again: a built-in name or an absolute path

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape (C, H, W) or (C, L), the shape a model's input layer must accept."""
        return tuple(int(d) for d in self.x_train.shape[1:])


# --------------------------------------------------------------------------- locations


def data_dir(name: str, root: Path | None = None) -> Path:
    """The directory where dataset ``name``'s files are expected (it need not exist)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "codesign" / "data" / name


def _missing(name: str, directory: Path, files: list[str], source: str) -> DatasetError:
    listed = ", ".join(files)
    return DatasetError(
        f"dataset {name!r}: missing {listed} in {directory}. Get them from {source} and "
        f"put them in that directory (or pass another directory: root=..., "
        f"${DATA_ENV}/{name}/, or the directory path as the dataset spec). "
        "codesign never downloads data."
    )


# --------------------------------------------------------------------------- helpers


def _finish(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    where: str,
    num_classes: int | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> Dataset:
    """Check shapes and labels once, for every format, and build the Dataset.

    Without ``val`` the validation split is carved from the training data here, so every
    format gets the same one.
    """
    splits = [("train", x_train, y_train), ("test", x_test, y_test)]
    for split, x, y in splits + ([("val", *val)] if val is not None else []):
        if x.ndim not in (3, 4):
            raise DatasetError(
                f"dataset {name!r} ({where}): x_{split} has shape {x.shape}, expected "
                "(N, C, H, W) for a 2-D model or (N, C, L) for a 1-D (Conv1d) one; reshape "
                "the samples to channels-first before saving."
            )
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(
                f"dataset {name!r} ({where}): y_{split} has shape {y.shape} for "
                f"{len(x)} images; expected one integer label per image."
            )
        if len(x) == 0:
            raise DatasetError(f"dataset {name!r} ({where}): the {split} split is empty.")
        bad = describe_nonfinite(x)
        if bad is not None:  # NaN calibrates, trains and casts into silently wrong designs
            raise DatasetError(
                f"dataset {name!r} ({where}): x_{split} holds {bad} (of {x.size}); "
                "replace or drop those images before using the file."
            )
    if val is None:
        if len(y_train) < 2:
            raise DatasetError(f"dataset {name!r} ({where}): {len(y_train)} training image(s) "
                               "cannot be split into train and validation.")
        tr, va = _stratified_split(np.asarray(y_train), VAL_FRACTION, VAL_SPLIT_SEED)
        if len(va) == 0:  # tiny sets: still hold one image out
            tr, va = tr[1:], tr[:1]
        val = (x_train[va], y_train[va])
        x_train, y_train = x_train[tr], y_train[tr]
    else:
        va = np.zeros(0, dtype=np.int64)
    x_val, y_val = np.asarray(val[0]), np.asarray(val[1])
    for split, x in (("test", x_test), ("val", x_val)):
        if x_train.shape[1:] != x.shape[1:]:
            raise DatasetError(
                f"dataset {name!r} ({where}): train images are {x_train.shape[1:]} but {split} "
                f"images are {x.shape[1:]}; all splits must have the same shape."
            )
    labels = np.concatenate([y_train, y_val, y_test])
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise DatasetError(
            f"dataset {name!r} ({where}): labels must be non-negative integers, got dtype "
            f"{labels.dtype} with minimum {labels.min()}."
        )
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.max() >= k:
        raise DatasetError(
            f"dataset {name!r} ({where}): label {labels.max()} is out of range for {k} classes."
        )
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(x_train, dtype=np.float32),
        y_train=y_train.astype(np.int64),
        x_test=np.ascontiguousarray(x_test, dtype=np.float32),
        y_test=y_test.astype(np.int64),
        num_classes=k,
        x_val=np.ascontiguousarray(x_val, dtype=np.float32),
        y_val=y_val.astype(np.int64),
        val_rows=va.astype(np.int64),
    )


# --------------------------------------------------------------------------- digits


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with ``fraction`` of every class held out.

    Uses the legacy RandomState, whose stream numpy keeps frozen, so the split is the
    same on every machine and numpy version.
    """
    rs = np.random.RandomState(seed)
    test: list[np.ndarray] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        n_test = int(round(len(idx) * fraction))
        test.append(idx[rs.permutation(len(idx))[:n_test]])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    return train_idx, test_idx


def load_digits(root: Path | None = None) -> Dataset:
    """scikit-learn's 8x8 digits in [0, 1], a fixed stratified 80/20 split; ``root`` unused."""
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    x = (raw.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = raw.target.astype(np.int64)
    tr, te = _stratified_split(y, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    return _finish("digits", x[tr], y[tr], x[te], y[te], "scikit-learn", num_classes=10)


def load_shapes32(root: Path | None = None) -> Dataset:
    """The generated 32x32 RGB dataset of codesign.shapes; ``root`` unused."""
    from codesign.shapes import CLASSES, shapes32_arrays

    x_tr, y_tr, x_te, y_te = shapes32_arrays()
    return _finish("shapes32", x_tr, y_tr, x_te, y_te, "generated", num_classes=len(CLASSES))


# --------------------------------------------------------------------------- IDX (MNIST)

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _idx_path(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """Parse one unsigned-byte IDX file (raw or gzip), the MNIST on-disk format."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            blob = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read IDX file {path}: {exc}; replace the file.") from exc
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number); replace the file.")
    if blob[2] != 0x08:
        raise DatasetError(
            f"{path}: IDX element type 0x{blob[2]:02x} is not supported, only unsigned "
            "bytes (0x08) as in MNIST."
        )
    ndim = blob[3]
    dims = tuple(int(d) for d in np.frombuffer(blob, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) if dims else 0
    if len(blob) - offset != expected:
        raise DatasetError(
            f"{path}: header says {dims} ({expected} bytes) but {len(blob) - offset} bytes "
            "follow; the file is truncated or corrupt, replace it."
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=offset).reshape(dims)


def _load_idx_dir(name: str, directory: Path, source: str) -> Dataset:
    paths = {key: _idx_path(directory, stem) for key, stem in IDX_FILES.items()}
    missing = [f"{IDX_FILES[k]}[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise _missing(name, directory, missing, source)
    arrays = {k: read_idx(p) for k, p in paths.items() if p is not None}
    for key in ("x_train", "x_test"):
        if arrays[key].ndim != 3:
            raise DatasetError(
                f"{paths[key]}: images must be a 3-D IDX array (N, H, W), got shape "
                f"{arrays[key].shape}."
            )
    return _finish(
        name,
        arrays["x_train"][:, None].astype(np.float32) / 255.0,
        arrays["y_train"],
        arrays["x_test"][:, None].astype(np.float32) / 255.0,
        arrays["y_test"],
        str(directory),
        num_classes=10,
    )


MNIST_SOURCE = "the MNIST database page (Yann LeCun, Corinna Cortes, Chris Burges)"
FASHION_SOURCE = "the Fashion-MNIST GitHub page (zalandoresearch/fashion-mnist)"


def load_mnist(root: Path | None = None) -> Dataset:
    """MNIST from its four IDX files, /255, (N, 1, 28, 28)."""
    return _load_idx_dir("mnist", data_dir("mnist", root), MNIST_SOURCE)


def load_fashion_mnist(root: Path | None = None) -> Dataset:
    """Fashion-MNIST, same IDX files and layout as MNIST."""
    return _load_idx_dir("fashion_mnist", data_dir("fashion_mnist", root), FASHION_SOURCE)


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = "test_batch"
CIFAR_SOURCE = "the CIFAR-10 page (Alex Krizhevsky, 'CIFAR-10 python version')"

# A CIFAR batch is a pickle of a dict holding a numpy array and a list; these are the
# only globals such a file needs, so anything else (arbitrary code) is refused.
_PICKLE_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, never arbitrary callables."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DatasetError(f"cannot read CIFAR batch {path}: {exc}; replace the file.") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(
            f"{path} is not a CIFAR-10 python batch (expected a dict with b'data' and "
            "b'labels'); replace the file."
        )
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"{path}: b'data' has shape {data.shape}, expected (N, 3072) as in CIFAR-10."
        )
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_batches_dir(directory: Path) -> Path:
    """Accept either the parent of cifar-10-batches-py or that directory itself."""
    nested = directory / CIFAR_DIR
    return nested if nested.is_dir() else directory


def _load_cifar_dir(name: str, directory: Path) -> Dataset:
    batches = _cifar_batches_dir(directory)
    missing = [f for f in [*CIFAR_TRAIN, CIFAR_TEST] if not (batches / f).is_file()]
    if missing:
        where = directory / CIFAR_DIR if batches == directory else batches
        raise _missing(name, where, missing, CIFAR_SOURCE)
    train = [_read_cifar_batch(batches / f) for f in CIFAR_TRAIN]
    x_test, y_test = _read_cifar_batch(batches / CIFAR_TEST)
    return _finish(
        name,
        np.concatenate([x for x, _ in train]).astype(np.float32) / 255.0,
        np.concatenate([y for _, y in train]),
        x_test.astype(np.float32) / 255.0,
        y_test,
        str(batches),
        num_classes=10,
    )


def load_cifar10(root: Path | None = None) -> Dataset:
    """CIFAR-10 from the python-version pickled batches, /255, (N, 3, 32, 32)."""
    return _load_cifar_dir("cifar10", data_dir("cifar10", root))


# --------------------------------------------------------------------------- SVHN

SVHN_FILES = ("train_32x32.mat", "test_32x32.mat")
SVHN_SOURCE = "the SVHN page (Stanford, 'Format 2: cropped digits')"


def _read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except (OSError, ValueError, TypeError) as exc:
        raise DatasetError(f"cannot read SVHN file {path}: {exc}; replace the file.") from exc
    if "X" not in mat or "y" not in mat:
        raise DatasetError(f"{path}: expected variables 'X' and 'y' as in SVHN cropped digits.")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DatasetError(f"{path}: 'X' has shape {x.shape}, expected (32, 32, 3, N).")
    y[y == 10] = 0  # SVHN stores the digit 0 as label 10
    return x.transpose(3, 2, 0, 1), y


def _load_svhn_dir(name: str, directory: Path) -> Dataset:
    missing = [f for f in SVHN_FILES if not (directory / f).is_file()]
    if missing:
        raise _missing(name, directory, missing, SVHN_SOURCE)
    x_train, y_train = _read_svhn_mat(directory / SVHN_FILES[0])
    x_test, y_test = _read_svhn_mat(directory / SVHN_FILES[1])
    return _finish(
        name,
        x_train.astype(np.float32) / 255.0,
        y_train,
        x_test.astype(np.float32) / 255.0,
        y_test,
        str(directory),
        num_classes=10,
    )


def load_svhn(root: Path | None = None) -> Dataset:
    """SVHN cropped digits from the two .mat files, /255, (N, 3, 32, 32)."""
    return _load_svhn_dir("svhn", data_dir("svhn", root))


# --------------------------------------------------------------------------- npz / paths

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_VAL_KEYS = ("x_val", "y_val")


def load_npz(path: Path) -> Dataset:
    """A dataset saved as one .npz with x_train, y_train, x_test, y_test (used as given),
    and optionally x_val, y_val (else the validation split is carved from train)."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"cannot read {path} as .npz: {exc}") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path} holds a single array, not an .npz archive of {NPZ_KEYS}.")
    with z:
        missing = [k for k in NPZ_KEYS if k not in z.files]
        if missing:
            raise DatasetError(
                f"{path}: missing array(s) {', '.join(missing)}; an .npz dataset needs "
                f"{', '.join(NPZ_KEYS)} (found {', '.join(z.files) or 'none'})."
            )
        arrays = {k: z[k] for k in NPZ_KEYS}
        has_val = [k for k in NPZ_VAL_KEYS if k in z.files]
        if len(has_val) == 1:
            raise DatasetError(f"{path}: has {has_val[0]} but not its pair; give both "
                               f"{' and '.join(NPZ_VAL_KEYS)} or neither.")
        val = (z["x_val"], z["y_val"]) if has_val else None
    return _finish(path.stem, *(arrays[k] for k in NPZ_KEYS), where=str(path), val=val)


def _load_path(path: Path) -> Dataset:
    """Recognise a dataset directory by its files, or read an .npz file."""
    if path.is_file():
        if path.suffix != ".npz":
            raise DatasetError(
                f"{path} is a file but not an .npz; pass an .npz with {', '.join(NPZ_KEYS)} "
                "or a dataset directory."
            )
        return load_npz(path)
    if not path.is_dir():
        raise DatasetError(f"dataset path {path} does not exist; check the path.")
    label = str(path)
    if any(_idx_path(path, stem) is not None for stem in IDX_FILES.values()):
        return _load_idx_dir(label, path, MNIST_SOURCE)
    if (path / CIFAR_DIR).is_dir() or (path / CIFAR_TRAIN[0]).is_file():
        return _load_cifar_dir(label, path)
    if any(path.glob("*_32x32.mat")):
        return _load_svhn_dir(label, path)
    raise DatasetError(
        f"directory {path} holds no dataset codesign recognises: expected MNIST IDX files "
        f"({', '.join(IDX_FILES.values())}), {CIFAR_DIR}/ or data_batch_1..5 + test_batch, "
        f"or SVHN {' / '.join(SVHN_FILES)}."
    )


# --------------------------------------------------------------------------- registry

DATASETS: dict[str, Callable[[Path | None], Dataset]] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "svhn": load_svhn,
    "shapes32": load_shapes32,
}
"""Built-in dataset name -> loader(root). ``root`` is that dataset's directory or None."""

_DEFAULT_FOR_SHAPE = {
    (1, 8, 8): "digits",
    (1, 28, 28): "mnist",
    (3, 32, 32): "cifar10",
}


def load_dataset(spec: str, root: Path | None = None) -> Dataset:
    """Load a built-in dataset by name, or a dataset directory / .npz file by path."""
    if spec in DATASETS:
        return replace(DATASETS[spec](root), source=spec)
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec or "/" in spec or path.suffix == ".npz":
        return replace(_load_path(path), source=str(path.resolve()))
    raise DatasetError(
        f"unknown dataset {spec!r}; valid names: {', '.join(DATASETS)} "
        "(or a path to a dataset directory or .npz file)."
    )


def check_labels(data: Dataset, classes: int) -> None:
    """Refuse labels a model with `classes` outputs cannot predict, naming the split: they
    would count as errors without a word (or crash the loss while training)."""
    for split, y in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test)):
        if y.size and int(y.max()) >= classes:
            raise DatasetError(
                f"dataset {data.name!r}: the {split} split has label {int(y.max())}, but the "
                f"model has {classes} outputs (classes 0..{classes - 1}); relabel the data "
                f"or give the model {int(y.max()) + 1} outputs."
            )


def default_dataset_for(input_shape: tuple[int, ...]) -> str | None:
    """The built-in dataset a model with this (C, H, W) input most likely wants, if any."""
    return _DEFAULT_FOR_SHAPE.get(tuple(int(d) for d in input_shape))


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return ",".join(str(int(d)) for d in shape)


def dataset_for_shape(
    spec: str | None, input_shape: tuple[int, ...], root: Path | None = None
) -> Dataset:
    """The dataset to use for a model input: ``spec`` if given (shape-checked), else the default."""
    shape = tuple(int(d) for d in input_shape)
    if spec is None:
        spec = default_dataset_for(shape)
        if spec is None:
            raise CodesignError(
                f"no built-in dataset fits input shape {_fmt_shape(shape)}; "
                "pass --dataset NAME|PATH"
            )
        try:
            data = load_dataset(spec, root)
        except DatasetError as exc:  # a guess from the shape: say how to name the data
            raise DatasetError(f"no --dataset given and the design records none, so the "
                               f"input shape {_fmt_shape(shape)} picked {spec!r}, which "
                               f"cannot be loaded ({exc}); pass --dataset NAME|PATH") from None
    else:
        data = load_dataset(spec, root)
    if data.input_shape != shape:
        raise DatasetError(
            f"dataset {data.name!r} has input shape {_fmt_shape(data.input_shape)} but the "
            f"model expects {_fmt_shape(shape)}; pass a dataset whose samples are "
            f"{_fmt_shape(shape)} (arrays x_* of shape (N,{_fmt_shape(shape)}) in an .npz; "
            "--dataset NAME|PATH)."
        )
    return data
