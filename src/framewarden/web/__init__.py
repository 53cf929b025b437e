"""The moderators' dashboard: templates and static files."""
