"""Which tier failed: statistics, attribution, router faults, change correlation, the report."""
