"""The package version: one place, read by the API and by the flow cache keys."""

__version__ = "0.1.0"
