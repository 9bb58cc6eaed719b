"""The Yosys commands that synthesize a design for an FPGA family: one place, read by
`codesign synth` and bench/rtl_area.py.

`synth_xilinx` maps LUTs with ABC9, whose default script ends in `&mfs` (don't-care
resynthesis): on a large adder graph (the 1,300-adder conv of the 8-bit digits_cnn: 82k
AND nodes, 29k carry-box pins) that runs for many CPU-minutes in the WebAssembly Yosys.
Measured (Yosys 0.70) on the 96-adder digits conv: the default script 8.3 s, without
`&mfs` 2.3 s, `&sweep; &if` 1.0 s, all within 1 LUT; on the issue's 16x8 layer `&sweep;
&if` gives 1,453 LUTs against the default's 1,436 (plain `abc`: 1,548, carry-blind). So
a plain `synth_xilinx` command runs up to its `map_luts` step, ABC9 maps the LUTs with
that short script and synth_xilinx's own LUT costs, and synth_xilinx's remaining steps
run as it would run them. A command with an option that changes `map_luts` (-nowidelut,
-dff, -nosrl, -run, a LUT size other than 6) runs unchanged, as do other families'.
"""

from __future__ import annotations

import shlex

# synth_xilinx's map_luts step with ABC9's script cut to `&sweep; &if` (its LUT costs,
# 6-input LUTs, LUT7/LUT8 from MUXF7/MUXF8 as synth_xilinx does by default). The script
# holds no `; ` so Yosys keeps it one argument.
ABC9_SCRIPT = "+&sweep;&if,-v"
MAP_LUTS = (f"opt_expr -mux_undef -noclkinv; abc9 -luts 2:2,3,6:5,10,20 -script {ABC9_SCRIPT}; "
            "clean; "
            "xilinx_srl -fixed -minlen 3; "
            "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; "
            "xilinx_dffopt; opt_lut_ins -tech xilinx")
_CHANGES_MAP_LUTS = {"-nowidelut", "-dff", "-nosrl", "-run", "-abc9", "-ise"}
_SIX_INPUT_FAMILIES = {"xc7", "xcu", "xcup", "xc6v", "xc6s", "xc5v"}


def fast_lut_mapping(command: str) -> bool:
    """Whether `command` is a synth_xilinx run whose ABC9 step can take the short script."""
    words = shlex.split(command)
    if not words or words[0] != "synth_xilinx" or _CHANGES_MAP_LUTS & set(words):
        return False
    family = words[words.index("-family") + 1] if "-family" in words[:-1] else "xc7"
    return family in _SIX_INPUT_FAMILIES


def synth_commands(command: str, top: str) -> str:
    """The Yosys commands (`;`-separated) that synthesize the design read so far with
    the device family's command, top module `top`."""
    if not fast_lut_mapping(command):
        return f"{command} -top {top}"
    return (f"{command} -top {top} -run :map_luts; {MAP_LUTS}; "
            f"{command} -top {top} -run finalize:")
