"""Django admin for the accounts app."""
