"""Thin Cloud Functions entry points: decode the event, call the service, return or raise."""
