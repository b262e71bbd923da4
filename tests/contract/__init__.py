"""Contract tests: Terraform and the code, each read from its source, held to each other."""
