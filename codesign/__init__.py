"""codesign: hardware co-design for quantized CNNs.

The stable Python API; the CLI is built on exactly these names.
"""

from codesign.data import Dataset, load_dataset
from codesign.design import DesignPoint, LayerImpl
from codesign.devices import DEVICES, Device, get_device
from codesign.errors import CodesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import Graph
from codesign.models import LoadedModel, load_model
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.quant.export import verify_export
from codesign.quant.keep_types import keep_types, type_changes
from codesign.quant.methods import METHODS, MethodSettings, QuantJob, run_method
from codesign.version import __version__ as __version__

__all__ = [
    "DEVICES", "METHODS", "CodesignError", "Dataset", "DesignPoint", "Device", "FixedType",
    "Graph", "LayerImpl", "LoadedModel", "MethodSettings", "Overflow", "QuantJob",
    "QuantizedNet", "Rounding", "Widths", "calibrate_design", "get_device", "keep_types",
    "load_dataset", "load_model", "run_method", "type_changes", "verify_export",
]
