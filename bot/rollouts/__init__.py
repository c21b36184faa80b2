"""Model builds, cohort assignments, rollback requests and the rollout backends."""
