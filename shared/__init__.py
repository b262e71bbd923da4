"""cuecast's library: domain, ports, adapters and the stage services."""
