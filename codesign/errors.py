"""Errors the user can act on.

Library code raises these with a message that says what is wrong, where, and what to
do; the CLI prints the message (no traceback) and exits 1. Anything else escaping is a
bug in codesign and keeps its traceback.
"""

from __future__ import annotations


class CodesignError(Exception):
    """A problem with the user's input, files or environment (exit status 1)."""


class UnsupportedLayerError(CodesignError):
    """The network contains an op we cannot build; the message names it and its module path."""


class DesignError(CodesignError):
    """A DesignPoint that is invalid for its graph (unknown layer, impossible width...)."""


class UnknownDeviceError(DesignError):
    """A part not in the device table; the CLI adds how this command can be given one."""


class DatasetError(CodesignError):
    """A dataset file is missing or malformed; the message says which file and where it goes."""


class MismatchError(CodesignError):
    """Two implementations that must agree bit for bit do not; names the first layer and element."""
