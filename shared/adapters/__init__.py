"""Adapters: production and offline implementations of the ports in `shared.ports`."""
