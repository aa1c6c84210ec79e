"""Django admin for the alerts app."""
