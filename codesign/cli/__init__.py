"""The `codesign` command line: one module per command, all built on the Python API."""
