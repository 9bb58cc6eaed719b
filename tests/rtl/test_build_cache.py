"""A cached Verilator build whose cocotb library is gone (its Python environment was
removed) is recognised as stale, not run."""

from __future__ import annotations

import subprocess

from codesign.verify.rtlsim import missing_libraries


def test_a_build_linked_to_a_removed_library_is_stale(tmp_path):
    (tmp_path / "lib.c").write_text("int answer(void) { return 42; }\n")
    (tmp_path / "main.c").write_text("int answer(void);\nint main(void) { return answer(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "libgone.so"),
                    str(tmp_path / "lib.c")], check=True)
    exe = tmp_path / "top"
    subprocess.run(["gcc", "-o", str(exe), str(tmp_path / "main.c"), f"-L{tmp_path}",
                    "-lgone", f"-Wl,-rpath,{tmp_path}"], check=True)
    assert subprocess.run([str(exe)]).returncode == 42
    assert missing_libraries(exe) == []
    (tmp_path / "libgone.so").unlink()
    assert missing_libraries(exe) == ["libgone.so"]
