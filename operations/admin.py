"""The admin index opens with a link to the operations page (operations/admin_page.py)."""

from django.contrib import admin

admin.site.index_template = "operations/admin_index.html"
