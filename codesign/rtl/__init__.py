"""SystemVerilog back end: the RTL plan of a QuantizedNet (one hw/ engine per layer),
its adder graphs and MAC engines, their pipelining, and the cycle model of the result.

Import the submodule you need (codesign.rtl.network plans and writes the RTL).
"""
