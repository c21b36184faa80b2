"""Incidents: roles, the timeline (a view of the activity log), the postmortem export."""
