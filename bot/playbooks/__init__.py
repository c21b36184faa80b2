"""Playbooks: the YAML format, the loader, and the runner (a persisted state machine)."""
