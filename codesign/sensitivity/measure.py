"""One entry point per method, and the one place that decides which split each reads.

The Hessian methods take the curvature of the *training* loss (what training minimized);
the probes are imprinted on the training split and scored on the *validation* split.
Nothing here reads the test split: it is kept for the figures we report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from codesign.data import Dataset
from codesign.errors import CodesignError
from codesign.ir.graph import Graph
from codesign.sensitivity.hutchinson import HutchinsonSettings
from codesign.sensitivity.table import METHODS, SensitivityTable


def sensitivity_table(module: nn.Module, input_shape: tuple[int, ...], data: Dataset,
                      method: str, bits: Sequence[int], *,
                      settings: HutchinsonSettings | None = None, activations: bool = True,
                      model_name: str | None = None, progress: bool = False,
                      cache: Path | None | bool = True) -> SensitivityTable:
    """The `method` SensitivityTable of a torch model on a dataset's train/val splits."""
    if method not in METHODS:
        raise CodesignError(f"unknown sensitivity method {method!r}; valid: "
                            f"{', '.join(METHODS)}")
    if method == "probe":
        from codesign.sensitivity.probes import probe_table

        if len(data.x_val) == 0:
            raise CodesignError(f"dataset {data.name!r} has no validation samples; the "
                                "probes are scored on the validation split")
        return probe_table(Graph.from_torch(module, input_shape), data.x_train, data.y_train,
                           data.x_val, data.y_val, bits, data.num_classes,
                           model_name=model_name, dataset=data.name, activations=activations)
    from codesign.sensitivity.perturbation import hessian_table

    return hessian_table(module, input_shape, data.x_train, data.y_train, bits, method=method,
                         settings=settings, activations=activations, model_name=model_name,
                         dataset=data.name, progress=progress, cache=cache)
