"""cs_cast against FixedType.cast_int: every 8-bit input, every rounding and overflow
mode, signed and unsigned on both sides, rounding shifts (small and beyond the input)
and widening shifts. One Verilator --binary build holds every configuration."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import numpy as np

from codesign.fixed import FixedType, Overflow, Rounding
from codesign.rtl.engines import OVERFLOW_CODES, ROUNDING_CODES
from codesign.rtl.network import hw_dir
from codesign.verify.rtlsim import configure_verilator, verilator_root

IW, IN_FRAC, OW = 8, 4, 5
CONFIGS = list(itertools.product((0, 1), (-1, -3, -10, 0, 2), (0, 1), list(Rounding),
                                 list(Overflow)))


def test_cast_matches_fixed_type_exhaustively(tmp_path):
    lines = ["module cast_tb;", f"  logic [{IW - 1}:0] x;"]
    for i, (is_, shift, os_, rnd, ovf) in enumerate(CONFIGS):
        lines.append(f"  logic [{OW - 1}:0] y{i};")
        lines.append(f"  cs_cast #(.IW({IW}), .IS({is_}), .SHIFT({shift}), .OW({OW}), "
                     f".OS({os_}), .RND({ROUNDING_CODES[rnd]}), .OVF({OVERFLOW_CODES[ovf]})) "
                     f"u{i} (.x(x), .y(y{i}));")
    outs = ", ".join(f"y{i}" for i in range(len(CONFIGS)))
    fmt = " ".join(["%0d"] * (len(CONFIGS) + 1))
    lines += ["  initial begin", f"    for (int v = 0; v < {1 << IW}; v++) begin",
              f"      x = v[{IW - 1}:0];", "      #1;", f'      $display("{fmt}", v, {outs});',
              "    end", "    $finish;", "  end", "endmodule"]
    (tmp_path / "cast_tb.sv").write_text("\n".join(lines) + "\n")
    shutil.copy(hw_dir() / "cs_cast.sv", tmp_path / "cs_cast.sv")
    env = {**os.environ, **configure_verilator()}
    build = subprocess.run(
        [str(verilator_root() / "bin" / "verilator"), "--binary", "-Wno-fatal", "-CFLAGS",
         "-std=c++20 -fcoroutines -O0", "--top-module", "cast_tb", "cast_tb.sv", "cs_cast.sv",
         "-Mdir", "obj"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    run = subprocess.run([str(tmp_path / "obj" / "Vcast_tb")], capture_output=True, text=True,
                         cwd=tmp_path)
    rows = np.array([[int(v) for v in line.split()] for line in run.stdout.splitlines()
                     if line[:1].isdigit()], dtype=np.int64)
    assert rows.shape == (1 << IW, len(CONFIGS) + 1)
    raw = rows[:, 0]
    for i, (is_, shift, os_, rnd, ovf) in enumerate(CONFIGS):
        m = np.where(raw >= 128, raw - 256, raw) if is_ else raw
        out_frac = IN_FRAC + shift
        t = FixedType(OW, OW - out_frac, bool(os_), rnd, ovf)
        want = t.cast_int(m, IN_FRAC)
        got = rows[:, i + 1]
        if os_:
            got = np.where(got >= 1 << (OW - 1), got - (1 << OW), got)
        bad = np.flatnonzero(got != want)
        assert not len(bad), (f"{t} from {'signed' if is_ else 'unsigned'} input, shift "
                              f"{shift}: input {m[bad[0]]} gives {got[bad[0]]}, "
                              f"expected {want[bad[0]]}")
