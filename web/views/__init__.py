"""The web app's pages: each view reads through the selectors and writes through the services the API uses."""
