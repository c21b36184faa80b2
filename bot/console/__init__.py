"""The terminal front end: rendering of service results for people at a console."""
