"""Back ends: hls4ml projects (codesign.emit.hls) and SystemVerilog (codesign.emit.rtl).

Import the submodule you need; each pulls in its heavy tools (hls4ml, ...) only there.
"""
