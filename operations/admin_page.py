"""The admin's operations page: "are we behind?" answered in the admin, for staff only.

Routed at /admin/operations/ (pricealert/urls.py); the admin index links to it
(pricealert/urls.py sets that index).
"""

from django.conf import settings
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from operations.dashboard import collect_operations


def _operations_page(request):
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "ops": collect_operations(timezone.now()),
        "feed_stale_seconds": settings.FEED_STALE_SECONDS,
    }
    return TemplateResponse(request, "operations/admin_operations.html", context)


# Staff only, as every admin page: anyone else is sent to the admin's login.
operations_page = admin.site.admin_view(_operations_page)
