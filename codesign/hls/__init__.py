"""hls4ml back end: the project (codesign.hls.project), its configuration, the checks
that refuse what hls4ml would get wrong, its C simulation and test-bench data.

Import the submodule you need; hls4ml itself is imported only where it is used.
"""
