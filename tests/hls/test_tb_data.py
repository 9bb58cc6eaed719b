"""tb_data/ golden vectors: read as hls4ml's test bench reads them, they hold the inputs on
the input type's grid and the bit-accurate model's outputs, and hls4ml's own test bench,
run on them against the C simulation the pool already compiled, prints exactly those
outputs. Random networks cover multi-channel inputs, multi-dimensional outputs, both io
types and every rounding/overflow mode; the CLI case is what `codesign emit --csim` writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import all_cases
from harness import has_bench, make_case, zoo_qnet

from codesign.qnet import QuantizedNet

pytestmark = pytest.mark.xdist_group("hls4ml")

CASES = [c for c in all_cases(False) if has_bench(c)]


def bench_read(path: Path, dtype: type = np.float32) -> list[np.ndarray]:
    """myproject_test.cpp: std::getline per sample, strtok(" ") per value, atof into a
    vector<float> (dtype float64 reads the exact decimals instead)."""
    rows = []
    for line in path.read_text().split("\n")[:-1]:  # getline: the text ends in a newline
        tokens = [t for t in line.split(" ") if t]  # strtok skips empty tokens
        rows.append(np.array([float(t) for t in tokens], dtype=np.float64).astype(dtype))
    return rows


def _channels_last(values: np.ndarray) -> np.ndarray:
    if values.ndim > 2:
        values = np.moveaxis(values, 1, -1)
    return values.reshape(len(values), -1)


def _case_model(case: str, design: str | None) -> tuple[QuantizedNet, np.ndarray]:
    if case.startswith("cli:"):
        _, x = zoo_qnet(case.split(":")[1])
        assert design is not None
        return QuantizedNet.load(design), x[:1000]  # `emit --csim` simulates 1,000
    qnet, x, _ = make_case(case)
    return qnet, x


@pytest.mark.parametrize("case", CASES)
def test_tb_data_holds_the_bit_accurate_outputs(hls_results: dict, case: str) -> None:
    r = hls_results[case].result()
    assert "crash" not in r, f"{case} crashed:\n{r.get('stderr')}"
    bench = r["bench"]
    assert bench.get("build_rc") == 0, bench.get("stderr")
    assert bench["rc"] == 0, bench["stderr"]
    qnet, x = _case_model(case, r.get("design"))
    tb = Path(bench["dir"])
    inputs = bench_read(tb / "tb_input_features.dat")
    outputs = bench_read(tb / "tb_output_predictions.dat", np.float64)
    assert len(inputs) == len(outputs) == len(x)
    want_in = _channels_last(qnet.design.input.quantize(x))
    want_out = _channels_last(np.asarray(qnet.forward(x)))
    assert np.array_equal(np.stack(inputs), want_in)  # float32 holds them exactly
    assert np.array_equal(np.stack(outputs), want_out)
    # hls4ml's test bench ran every line and printed exactly our outputs
    log = (tb / "csim_results.log").read_text()
    assert log == (tb / "tb_output_predictions.dat").read_text()
