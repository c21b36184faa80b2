"""Block Kit messages built with `slack_sdk.models`, which validates them as they serialise."""
