"""Cost model of the generated RTL: LUT, FF, DSP, BRAM and cycles per layer."""

from codesign.cost.fast import FastCostModel

__all__ = ["FastCostModel"]
