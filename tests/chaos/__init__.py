"""The chaos suite: the real stack under crashes, restarts, blocked networks and a refusing mail server."""
