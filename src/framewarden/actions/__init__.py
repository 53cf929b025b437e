"""Carrying out verdicts: alerts, notifiers, stream controllers, evidence."""
