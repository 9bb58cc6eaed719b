"""Synthesis of the generated RTL with Yosys (and nextpnr-ecp5): the cost model's truth."""

from codesign.synth.cells import fpga_fields, read_stat
from codesign.synth.run import synthesize

__all__ = ["fpga_fields", "read_stat", "synthesize"]
