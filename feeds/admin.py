"""Django admin for the feeds app."""
