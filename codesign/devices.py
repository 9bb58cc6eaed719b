"""Target devices: the resources a design must fit and the primitives it maps to.

The table is data: hw/devices/devices.yaml (shipped as codesign.hw) holds the device
families (LUT size, DSP shape, block-RAM geometry, typical clock, Yosys and nextpnr
commands) and the parts (LUT/FF/DSP/BRAM counts). A user adds parts with a YAML file of
the same shape: `register_device_file(path)` (the CLI's `--device-file`).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import DesignError, UnknownDeviceError
from codesign.yamlio import read_yaml

FAMILY_KEYS = {"vendor", "lut_inputs", "dsp", "bram", "clock_mhz", "yosys", "nextpnr"}
PART_KEYS = {"family", "lut", "ff", "dsp", "bram", "clock_mhz", "nextpnr_args"}
PART_REQUIRED = ("family", "lut", "ff", "dsp", "bram")


@dataclass(frozen=True)
class Device:
    part: str  # the name users type (lower case)
    family: str  # xc7, xcup (UltraScale+), ecp5, or a user's family
    lut: int
    ff: int
    dsp: int
    bram: int  # block-RAM blocks (36 Kb on Xilinx, 18 Kb EBR on ECP5)
    lut_inputs: int = 6
    dsp_a_bits: int = 25  # DSP multiplier shape: a x b signed
    dsp_b_bits: int = 18
    bram_bits: int = 36 * 1024
    default_clock_mhz: float = 100.0
    synth_command: str = "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf"
    vendor: str = "xilinx"
    dsp_cell: str = "DSP48E1"
    bram_cell: str = "RAMB36E1"
    bram_widths: tuple[int, ...] = (1, 2, 4, 9, 18, 36, 72)
    nextpnr: str | None = None  # place-and-route program (None: post-synthesis figures)
    nextpnr_args: str = ""

    def __post_init__(self) -> None:
        for name in ("lut", "ff", "dsp", "bram", "lut_inputs", "dsp_a_bits", "dsp_b_bits",
                     "bram_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DesignError(f"device {self.part}: {name} must be a non-negative integer, "
                                  f"not {value!r}")
        for name in ("lut", "ff"):  # shares of the device are per LUT and per flip-flop
            if getattr(self, name) == 0:
                raise DesignError(f"device {self.part}: {name} is 0; a part with no "
                                  f"{'LUTs' if name == 'lut' else 'flip-flops'} holds no "
                                  f"design. Give its {name} count")
        if not isinstance(self.default_clock_mhz, (int, float)) or self.default_clock_mhz <= 0:
            raise DesignError(f"device {self.part}: clock_mhz must be a positive number, not "
                              f"{self.default_clock_mhz!r}")

    def to_dict(self) -> dict[str, Any]:
        """The figures a table or report shows."""
        return {"part": self.part, "family": self.family, "lut": self.lut, "ff": self.ff,
                "dsp": self.dsp, "bram": self.bram, "lut_inputs": self.lut_inputs,
                "dsp_shape": f"{self.dsp_a_bits}x{self.dsp_b_bits}",
                "bram_kbits": self.bram_bits // 1024, "clock_mhz": self.default_clock_mhz}


def _check_keys(data: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise DesignError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise DesignError(f"{where}: unknown key(s) {unknown}; allowed keys: {sorted(allowed)}")
    return data


def _family(name: str, spec: Any, where: str) -> dict[str, Any]:
    """A family entry as Device keyword arguments."""
    spec = _check_keys(spec, FAMILY_KEYS, f"{where}: family {name!r}")
    missing = [k for k in ("lut_inputs", "dsp", "bram", "yosys") if k not in spec]
    if missing:
        raise DesignError(f"{where}: family {name!r} lacks {missing}")
    dsp = _check_keys(spec["dsp"], {"cell", "a_bits", "b_bits"}, f"{where}: family {name!r} dsp")
    bram = _check_keys(spec["bram"], {"cell", "kbits", "widths"},
                       f"{where}: family {name!r} bram")
    try:
        return dict(family=name, vendor=str(spec.get("vendor", "")),
                    lut_inputs=spec["lut_inputs"], dsp_cell=str(dsp["cell"]),
                    dsp_a_bits=dsp["a_bits"], dsp_b_bits=dsp["b_bits"],
                    bram_cell=str(bram["cell"]), bram_bits=int(bram["kbits"]) * 1024,
                    bram_widths=tuple(int(w) for w in bram["widths"]),
                    default_clock_mhz=spec.get("clock_mhz", 100.0),
                    synth_command=str(spec["yosys"]), nextpnr=spec.get("nextpnr"))
    except (KeyError, TypeError, ValueError) as exc:
        raise DesignError(f"{where}: family {name!r}: bad or missing field ({exc}); dsp needs "
                          "cell, a_bits, b_bits and bram needs cell, kbits, widths") from None


def parse_devices(data: Any, where: str, families: dict[str, dict] | None = None
                  ) -> tuple[dict[str, Device], dict[str, dict]]:
    """Devices (and families) from a parsed device file; `families` are those already
    known, which its parts may use."""
    data = _check_keys(data, {"families", "parts"}, where)
    fams = dict(families or {})
    for name, spec in (data.get("families") or {}).items():
        fams[str(name)] = _family(str(name), spec, where)
    parts = data.get("parts")
    if not isinstance(parts, dict) or not parts:
        raise DesignError(f"{where}: needs a 'parts' mapping of part name to its figures")
    devices: dict[str, Device] = {}
    for part, spec in parts.items():
        here = f"{where}: part {part!r}"
        spec = _check_keys(spec, PART_KEYS, here)
        missing = [k for k in PART_REQUIRED if k not in spec]
        if missing:
            raise DesignError(f"{here} lacks {missing}")
        family = str(spec["family"])
        if family not in fams:
            raise DesignError(f"{here}: unknown family {family!r}; known families: "
                              f"{', '.join(fams)} (or define it under 'families')")
        kwargs = {**fams[family]}
        if "clock_mhz" in spec:
            kwargs["default_clock_mhz"] = spec["clock_mhz"]
        name = str(part).lower()
        devices[name] = Device(name, lut=spec["lut"], ff=spec["ff"], dsp=spec["dsp"],
                               bram=spec["bram"], nextpnr_args=str(spec.get("nextpnr_args", "")),
                               **kwargs)
    return devices, fams


def _builtin() -> tuple[dict[str, Device], dict[str, dict]]:
    path = importlib.resources.files("codesign.hw") / "devices" / "devices.yaml"
    return parse_devices(yaml.safe_load(path.read_text()), "hw/devices/devices.yaml")


DEVICES, FAMILIES = _builtin()


def register_device_file(path: str | Path) -> list[Device]:
    """Add the parts of a user's device file to the table (for this process); returns
    them. A part already known is replaced by the file's figures."""
    data = read_yaml(path, "device file", DesignError)
    devices, families = parse_devices(data, str(path), FAMILIES)
    FAMILIES.update(families)
    DEVICES.update(devices)
    return list(devices.values())


def get_device(part: str) -> Device:
    """Look a part up by name (case-insensitive); unknown names list the known ones."""
    device = DEVICES.get(str(part).lower())
    if device is None:
        raise UnknownDeviceError(f"unknown device {part!r}; known devices: "
                                 f"{', '.join(DEVICES)} (a part of your own needs a device "
                                 "file shaped like hw/devices/devices.yaml)")
    return device
