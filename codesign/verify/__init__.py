"""Verification of generated RTL: Verilator + cocotb runs against the bit-accurate model
(codesign.verify.rtlsim) and self-contained regression suites (codesign.verify.testbench).
"""
