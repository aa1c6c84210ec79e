"""The HTTP pieces every API shares: the JSON error shape, the body parser, routing and schema helpers.

A leaf: it imports only Django and DRF, and every app's API imports it. A plain
package, not an installed app: it has no models, templates or commands.
"""
