"""cocotb testbenches (installed as codesign.sim)."""
