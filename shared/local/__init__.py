"""The local runtime: embedded database, local delivery, demo and operations commands."""
