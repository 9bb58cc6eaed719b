"""Binary weights stored as 1 bit each (S5): the sign bits plus one scale per channel.

A binary layer's integer weights are +-m_c (m_c >= 1 per output channel, see
quantizers.BinaryWeight). Stored, that is one bit per weight (1 = negative) packed eight to
a byte and one unsigned (W-1)-bit m_c per channel; `unpack` gives back exactly the integer
weights the bit-accurate model and the hardware use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from codesign.errors import DesignError
from codesign.qnet import QuantizedNet


def pack(mantissas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sign bits packed into uint8, per-channel magnitudes) of +-m_c integer weights."""
    m = np.asarray(mantissas, dtype=np.int64)
    flat = m.reshape(m.shape[0], -1)
    mags = np.abs(flat)
    if not np.all(mags == mags[:, :1]) or np.any(mags == 0):
        raise DesignError("these weights are not binary: every weight of a channel must be "
                          "+m or -m with m > 0")
    return np.packbits((flat < 0).ravel()), mags[:, 0].copy()


def unpack(signs: np.ndarray, scales: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The integer weights of shape `shape` back from pack()'s sign bits and magnitudes."""
    n = int(np.prod(shape))
    neg = np.unpackbits(signs)[:n].astype(bool).reshape(shape[0], -1)
    flat = np.where(neg, -1, 1) * np.asarray(scales, dtype=np.int64)[:, None]
    return flat.reshape(shape)


def storage_bits(qnet: QuantizedNet, binary_layers: Iterable[str]) -> int:
    """Bits to store every weight: 1 per weight plus (W-1) per channel in binary layers,
    W per weight elsewhere (biases not counted, as in the float32 reference)."""
    binary = set(binary_layers)
    bits = 0
    for name, m in qnet.weights.items():
        width = qnet.design[name].weight.width
        bits += m.size + m.shape[0] * (width - 1) if name in binary else m.size * width
    return bits


def compression_vs_float32(qnet: QuantizedNet, binary_layers: Iterable[str]) -> float:
    """float32 weight storage divided by the binary-packed storage."""
    total = sum(m.size for m in qnet.weights.values())
    return 32 * total / storage_bits(qnet, binary_layers)


def save_packed(qnet: QuantizedNet, binary_layers: Iterable[str], path: Path) -> Path:
    """Write the binary layers' packed signs and scales (and their shapes) to an .npz."""
    arrays: dict[str, np.ndarray] = {}
    for name in binary_layers:
        signs, scales = pack(qnet.weights[name])
        arrays[f"{name}.signs"] = signs
        arrays[f"{name}.scales"] = scales
        arrays[f"{name}.shape"] = np.asarray(qnet.weights[name].shape)
    np.savez(path, **arrays)
    return path
