"""The RTL library: SystemVerilog engines (installed as codesign.hw)."""
