"""Telemetry in: the data contract, ingest (file, HTTP, pull sources) and minute rollups."""
