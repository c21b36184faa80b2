"""The activity log: everything tierbot saw or did, append-only, in time order."""
