"""The operations room: /health and `manage.py pricealert_status`, read-only views of a deployment.

It owns no data: it reads the other apps through their selectors and the
price store's read side, and reports; it never changes anything.
"""
