"""Example kspec plugin package: the book's ch9.4 custom layer `SFC` (see `kspec_example.layers`)."""
