"""The Yosys commands that synthesize a design for an FPGA family: one place, read by
`codesign synth` and bench/rtl_area.py.

`synth_xilinx` maps LUTs with ABC9, whose default script (`&dch`, `&mfs`) ran for many
CPU-minutes on the large adder graphs of the 8-bit digits_cnn (its 1,295-adder conv: 82k
AND nodes, 29k carry-box pins) in the WebAssembly Yosys. So a plain `synth_xilinx`
command runs up to its `map_luts` step, a LUT mapper of our choice maps the LUTs with
synth_xilinx's own LUT costs, and synth_xilinx's remaining steps run as it would run them:
- "abc" (the default): plain `abc`, carry-blind, fast. The whole 8-bit digits_cnn top in
  43 CPU-s. Measured against ABC9's default: +0.4% LUTs on
  the 1,295-adder graph, -0.9% on the 96-adder one, +7.8% on the issue's 16x8 layer.
- "abc9": ABC9 with the script cut to `&sweep; &if`: within 1.2% of ABC9's default on
  those small graphs at a third of its time, but still over 2 CPU-minutes in ABC9 on the
  flattened 8-bit top (155k AND nodes).
- "yosys": synth_xilinx's own ABC9 with its default script, the command exactly as
  written (what a user running that command gets; minutes on large graphs).
A command with an option that changes `map_luts` (-nowidelut, -dff, -nosrl, -run, -ise, a
LUT size other than 6) runs unchanged, as do other families' commands.
"""

from __future__ import annotations

import shlex

from codesign.errors import CodesignError

# the LUT mappers, with synth_xilinx's LUT costs (6-input LUTs, LUT7/LUT8 from
# MUXF7/MUXF8 as by default); the ABC9 script holds no `; `, so it stays one argument
LUT_MAPPERS = {"abc": "abc -luts 2:2,3,6:5,10,20",
               "abc9": "abc9 -luts 2:2,3,6:5,10,20 -script +&sweep;&if,-v"}
# synth_xilinx's map_luts step, {mapper} for its `abc9` line
MAP_LUTS = ("opt_expr -mux_undef -noclkinv; {mapper}; clean; xilinx_srl -fixed -minlen 3; "
            "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; "
            "xilinx_dffopt; opt_lut_ins -tech xilinx")
YOSYS_MAPPER = "yosys"  # synth_xilinx's map_luts as Yosys runs it
MAPPERS = (*LUT_MAPPERS, YOSYS_MAPPER)
_CHANGES_MAP_LUTS = {"-nowidelut", "-dff", "-nosrl", "-run", "-abc9", "-ise"}
_SIX_INPUT_FAMILIES = {"xc7", "xcu", "xcup", "xc6v", "xc6s", "xc5v"}


def fast_lut_mapping(command: str) -> bool:
    """Whether `command` is a synth_xilinx run whose ABC9 step we can replace."""
    words = shlex.split(command)
    if not words or words[0] != "synth_xilinx" or _CHANGES_MAP_LUTS & set(words):
        return False
    family = words[words.index("-family") + 1] if "-family" in words[:-1] else "xc7"
    return family in _SIX_INPUT_FAMILIES


def synth_commands(command: str, top: str, mapper: str = "abc") -> str:
    """The Yosys commands (`;`-separated) that synthesize the design read so far with
    the device family's command, top module `top`, LUTs mapped by `mapper`."""
    if mapper not in MAPPERS:
        raise CodesignError(f"unknown LUT mapper {mapper!r}; known: {sorted(MAPPERS)}")
    if mapper == YOSYS_MAPPER or not fast_lut_mapping(command):
        return f"{command} -top {top}"
    return (f"{command} -top {top} -run :map_luts; "
            f"{MAP_LUTS.format(mapper=LUT_MAPPERS[mapper])}; "
            f"{command} -top {top} -run finalize:")
