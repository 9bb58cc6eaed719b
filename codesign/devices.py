"""Target devices: the resources a design must fit and the primitives it maps to.

Figures are from the vendors' product tables (logic cells are not LUTs: we list LUTs).
"""

from __future__ import annotations

from dataclasses import dataclass

from codesign.errors import DesignError


@dataclass(frozen=True)
class Device:
    part: str  # the name users type
    family: str  # xc7, xcup (UltraScale+), ecp5, ice40, asic
    lut: int
    ff: int
    dsp: int
    bram: int  # 36 Kb blocks (Xilinx) / 18 Kb EBR (Lattice)
    lut_inputs: int = 6
    dsp_a_bits: int = 25  # DSP multiplier shape: a x b signed
    dsp_b_bits: int = 18
    bram_bits: int = 36 * 1024
    default_clock_mhz: float = 100.0
    synth_command: str = "synth_xilinx -family xc7 -noiopad -noclkbuf"

    def __post_init__(self) -> None:
        for name in ("lut", "ff", "dsp", "bram"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise DesignError(f"device {self.part}: {name} must be a non-negative integer, "
                                  f"not {value!r}")


_XC7 = dict(family="xc7", lut_inputs=6, dsp_a_bits=25, dsp_b_bits=18, bram_bits=36 * 1024)
_XCUP = dict(family="xcup", lut_inputs=6, dsp_a_bits=27, dsp_b_bits=18, bram_bits=36 * 1024,
             default_clock_mhz=200.0,
             synth_command="synth_xilinx -family xcup -noiopad -noclkbuf")
_ECP5 = dict(family="ecp5", lut_inputs=4, dsp_a_bits=18, dsp_b_bits=18, bram_bits=18 * 1024,
             default_clock_mhz=100.0, synth_command="synth_ecp5")

DEVICES: dict[str, Device] = {
    d.part: d
    for d in (
        Device("xc7a35t", lut=20800, ff=41600, dsp=90, bram=50, **_XC7),
        Device("xc7a100t", lut=63400, ff=126800, dsp=240, bram=135, **_XC7),
        Device("xc7a200t", lut=134600, ff=269200, dsp=740, bram=365, **_XC7),
        Device("xc7z020", lut=53200, ff=106400, dsp=220, bram=140, **_XC7),
        Device("xczu3eg", lut=70560, ff=141120, dsp=360, bram=216, **_XCUP),
        Device("xczu9eg", lut=274080, ff=548160, dsp=2520, bram=912, **_XCUP),
        Device("xcvu9p", lut=1182240, ff=2364480, dsp=6840, bram=2160, **_XCUP),
        Device("lfe5u-25f", lut=24288, ff=24288, dsp=28, bram=56, **_ECP5),
        Device("lfe5u-45f", lut=43848, ff=43848, dsp=72, bram=108, **_ECP5),
        Device("lfe5u-85f", lut=83640, ff=83640, dsp=156, bram=208, **_ECP5),
    )
}


def get_device(part: str) -> Device:
    """Look a part up by name (case-insensitive); unknown names list the known ones."""
    device = DEVICES.get(part.lower())
    if device is None:
        raise DesignError(f"unknown device {part!r}; known devices: {', '.join(DEVICES)}")
    return device
