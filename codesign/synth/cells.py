"""Yosys cell reports -> the resource fields the cost model also prints.

`stat -json` counts cells by type over the flattened design. A family's cells map onto
LUT, FF, DSP, BRAM and the extras (CARRY, SRL, LUTRAM). LUT counts every LUT the design
occupies, logic or memory (SRL and LUTRAM included, as a device's LUT budget counts
them); an ECP5 CCU2C carry cell holds two LUT4s.
"""

from __future__ import annotations

import json
from pathlib import Path

from codesign.errors import CodesignError

# Xilinx: LUTs a LUT-memory primitive occupies
XILINX_LUTRAM = {"RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
                 "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM32M": 4,
                 "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8}
XILINX_SRL = ("SRL16", "SRL16E", "SRLC16E", "SRLC32E")
XILINX_BRAM = {"RAMB36E1": 1.0, "RAMB36E2": 1.0, "RAMB18E1": 0.5, "RAMB18E2": 0.5}
XILINX_DSP = ("DSP48E1", "DSP48E2")
XILINX_CARRY = ("CARRY4", "CARRY8")


def read_stat(path: Path) -> dict[str, int]:
    """Cell counts by type from a `stat -json` file (the whole design)."""
    try:
        data = json.loads(Path(path).read_text())
        cells = data["design"]["num_cells_by_type"]
    except (OSError, ValueError, KeyError) as exc:
        raise CodesignError(f"cannot read the Yosys cell report {path}: {exc}") from None
    hier = [c for c in cells if c.startswith("$paramod") or c.startswith("\\")]
    if hier:
        raise CodesignError(f"the Yosys report of {path} still holds module instances "
                            f"{hier[:3]}: synthesize with flattening")
    # $scopeinfo and the like are bookkeeping, not hardware
    return {str(k): int(v) for k, v in cells.items() if not str(k).startswith("$scope")}


def fpga_fields(cells: dict[str, int], family: str) -> dict[str, float]:
    """LUT, FF, DSP, BRAM, CARRY, SRL, LUTRAM from the cells of a mapped FPGA design."""
    if family in ("xc7", "xcup"):
        logic = cells.get("INV", 0) + sum(n for c, n in cells.items()
                                          if c.startswith("LUT") and c[3:].isdigit())
        srl = sum(cells.get(c, 0) for c in XILINX_SRL)
        lutram = sum(n * XILINX_LUTRAM[c] for c, n in cells.items() if c in XILINX_LUTRAM)
        return {"lut": logic + srl + lutram,
                "ff": sum(n for c, n in cells.items() if c.startswith("FD")),
                "dsp": sum(cells.get(c, 0) for c in XILINX_DSP),
                "bram": sum(n * XILINX_BRAM[c] for c, n in cells.items() if c in XILINX_BRAM),
                "carry": sum(cells.get(c, 0) for c in XILINX_CARRY), "srl": srl,
                "lutram": lutram}
    if family == "ecp5":
        carry = cells.get("CCU2C", 0)
        lutram = 4 * cells.get("TRELLIS_DPR16X4", 0)  # a 16x4 RAM uses two slices: 4 LUT4s
        return {"lut": cells.get("LUT4", 0) + 2 * carry + lutram,
                "ff": cells.get("TRELLIS_FF", 0),
                "dsp": cells.get("MULT18X18D", 0),
                "bram": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),
                "carry": carry, "srl": 0, "lutram": lutram}
    raise CodesignError(f"no cell mapping for device family {family!r}; synthesis knows "
                        "xc7, xcup and ecp5")
