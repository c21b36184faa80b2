"""The Slack front end: one bolt App, the `/tier` command, Block Kit views and charts.

Nothing here decides anything: listeners parse, call a domain service, and render.
"""
