"""Pages of security management (faces: forms check shape, services decide, selectors read)."""
