"""Layer sensitivity: how much the loss grows when one layer gets fewer bits.

Methods (docs/methods.md): S1 Hessian trace per parameter x quantization error
(`hessian`), S4 trace x parameter count (`joint`), S2 imprinted task-predictor probes
(`probe`). Each produces a SensitivityTable (table.py), the allocator's input;
`sensitivity_table` (measure.py) runs any of them on a dataset's train/val splits.
"""

from codesign.sensitivity.hutchinson import HutchinsonSettings, TraceEstimate, UnconvergedWarning
from codesign.sensitivity.measure import sensitivity_table
from codesign.sensitivity.table import METHODS, LayerSensitivity, SensitivityTable

__all__ = ["METHODS", "HutchinsonSettings", "LayerSensitivity", "SensitivityTable",
           "TraceEstimate", "UnconvergedWarning", "sensitivity_table"]
