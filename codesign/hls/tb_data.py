"""Golden vectors for the hls4ml project's own test bench (tb_data/).

hls4ml's myproject_test.cpp reads tb_data/tb_input_features.dat and
tb_data/tb_output_predictions.dat: one sample per line, values separated by spaces,
each parsed with atof into a float, the input line copied into the top function's input
in hls4ml's (channels-last) order. It runs every input line through the design and
prints the outputs to tb_data/csim_results.log (C simulation) or rtl_cosim_results.log
(co-simulation), in the same line-per-sample layout.

We write the inputs already on the input type's grid (exact decimals that a float holds
exactly, so the cast into the input type is exact under any rounding mode) and the
outputs as the bit-accurate model's values (mantissa * lsb, exact decimals). The bench is
told to print its results at full precision (ap_fixed prints 6 digits by default), so a
correct C or RTL simulation writes a results log equal to tb_output_predictions.dat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet

TB_DIR = "tb_data"
INPUTS = "tb_input_features.dat"
OUTPUTS = "tb_output_predictions.dat"
CSIM_LOG = "csim_results.log"
COSIM_LOG = "rtl_cosim_results.log"

# The bench's results stream: ap_fixed's operator<< rounds to the stream's precision
# (significant digits, 6 by default); 80 holds every value of a type up to 64 bits.
_RESULTS_STREAM = "    std::ofstream fout(RESULTS_LOG);\n"
_EXACT_RESULTS = ("    fout.precision(80);  // codesign: exact values, comparable with "
                  "tb_output_predictions.dat\n")


@dataclass(frozen=True)
class TbData:
    inputs: Path
    outputs: Path
    samples: int


def write_tb_data(qnet: QuantizedNet, project_dir: str | Path, x: np.ndarray) -> TbData:
    """Write both vector files for float inputs x (batch first, channels first)."""
    x = np.asarray(x, dtype=np.float64)
    in_t = qnet.design.input
    m_in = qnet.quantize_input(x)
    values_in = m_in * in_t.lsb
    if not np.array_equal(values_in.astype(np.float32), values_in):
        raise CodesignError(f"the input type {in_t} holds values a 32-bit float cannot, and "
                            "hls4ml's test bench reads its inputs as floats; use an input "
                            "type of at most 24 bits to write tb_data")
    m_out = qnet.forward_int(x)
    assert isinstance(m_out, np.ndarray)
    out_t = qnet.design.type_of(qnet.graph.output.name)
    tb = Path(project_dir) / TB_DIR
    tb.mkdir(parents=True, exist_ok=True)
    paths = TbData(tb / INPUTS, tb / OUTPUTS, len(x))
    paths.inputs.write_text(_lines(channels_last(m_in), in_t.frac))
    paths.outputs.write_text(_lines(channels_last(m_out), out_t.frac))
    return paths


def channels_last(values: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (N, prod) in hls4ml's order (channels last), as the bench streams it."""
    if values.ndim > 2:
        values = np.moveaxis(values, 1, -1)
    return values.reshape(len(values), -1)


def decimal_text(mantissa: int, frac: int) -> str:
    """mantissa * 2**-frac, exactly, spelled as ap_fixed's operator<< prints it at full
    precision: '3', '-0.375', '0', and below 1e-4 '6.103515625e-05' (its scientificFormat).
    """
    if frac <= 0:
        return str(mantissa << -frac)
    sign = "-" if mantissa < 0 else ""
    digits = str(abs(mantissa) * 5**frac).rjust(frac + 1, "0")  # value * 10**frac
    whole, part = digits[:-frac], digits[-frac:].rstrip("0")
    if mantissa == 0:
        return "0"
    zeros = len(part) - len(part.lstrip("0"))
    if whole == "0" and zeros >= 4:
        sig = part.lstrip("0")
        mant = sig[0] + ("." + sig[1:] if len(sig) > 1 else "")
        return f"{sign}{mant}e-{zeros + 1:02d}"
    return sign + whole + ("." + part if part else "")


def _lines(mantissas: np.ndarray, frac: int) -> str:
    """One sample per line, each value followed by a space (hls4ml's own .dat layout)."""
    cache: dict[int, str] = {}
    rows = []
    for row in mantissas.tolist():
        parts = []
        for m in row:
            text = cache.get(m)
            if text is None:
                text = cache[m] = decimal_text(m, frac)
            parts.append(text + " ")
        rows.append("".join(parts) + "\n")
    return "".join(rows)


def exact_results_bench(project_dir: str | Path, project: str) -> None:
    """Make the emitted myproject_test.cpp print its results at full precision."""
    path = Path(project_dir) / f"{project}_test.cpp"
    text = path.read_text()
    if _RESULTS_STREAM not in text:
        raise CodesignError(f"{path} does not open its results log as hls4ml 1.3 does "
                            "(internal error: hls4ml's test bench changed)")
    path.write_text(text.replace(_RESULTS_STREAM, _RESULTS_STREAM + _EXACT_RESULTS, 1))
