"""Build health: compatibility matrix, crash fingerprints, config staleness, per model build."""
