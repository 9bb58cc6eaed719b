"""Finding NaN and Inf before they turn into wrong designs.

A NaN in the data, the weights or a loss does not stop numpy or torch: calibration, the
fixed-point casts and training go on and produce a design that is silently wrong, or
fail deep inside with "cannot convert nan". Every place that takes numbers from the user
(dataset loaders, weight files, inputs to the bit-accurate model, the training loss)
asks :func:`describe_nonfinite` and raises a named error with its answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codesign.errors import CodesignError


def describe_nonfinite(values: Any) -> str | None:
    """None when every value is finite; else how many are NaN / Inf and the first index,
    e.g. "3 non-finite values (2 NaN, 1 Inf), the first at index (17, 0, 3, 5)"."""
    if hasattr(values, "detach"):  # a torch tensor (torch is not imported for numpy data)
        values = values.detach().cpu()  # float64 holds bfloat16 (numpy has no such type)
        values = (values.double() if values.is_floating_point() else values).numpy()
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return None  # integers and booleans are always finite
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum: look closer
        if values.size == 0 or np.isfinite(np.sum(values, dtype=np.float64)):
            return None  # a NaN or Inf makes the sum non-finite; no bool copy of big data
    bad = ~np.isfinite(values)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return None
    nan = int(np.count_nonzero(np.isnan(values)))
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))
    where = f"index {first}" if len(first) != 1 else f"index {first[0]}"
    return (f"{count} non-finite value{'s' if count > 1 else ''} ({nan} NaN, {count - nan} "
            f"Inf), the first at {where}")


def check_state(state: dict[str, Any], source: str, advice: str) -> None:
    """Refuse a state_dict (or named parameters) with a NaN or Inf, naming the tensor:
    its first bad entry and the source it came from."""
    for name, tensor in state.items():
        bad = describe_nonfinite(tensor)
        if bad is not None:
            raise CodesignError(f"{source}: parameter {name!r} holds {bad}; {advice}")
