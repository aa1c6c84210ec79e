"""What every API shares: the JSON error shape, the body parser, routing, schema helpers, throttles.

A leaf: it imports only Django, DRF and the cache's Redis client, and every
app's API imports it. A plain package, not an installed app: it has no models,
templates or commands.
"""
