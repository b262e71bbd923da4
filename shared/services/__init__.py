"""The stage services: one per stage, plus the webhook relay and the reconciler."""
