"""tierbot: which tier failed, for hybrid edge/cloud AI assistants."""

__version__ = "0.1.0"
