"""Deliveries seen: a key remembered by every replica, so a redelivered request is handled once."""
