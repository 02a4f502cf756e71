"""Models of this app; see its issue."""
