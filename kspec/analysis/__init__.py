"""Stages resolve and check, without Keras: the named graph (`graph`), the registry of checks (`checks`) and static
shape and parameter inference (`shapes`, with one rule module per layer family in `shape_rules`)."""
