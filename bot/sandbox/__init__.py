"""Local stand-ins for the outside world, so the bot can be demonstrated and tested offline."""
