"""The admin's big lists (alerts, notifications): paged without counting every row, sorted by index.

Django's admin counts the whole filtered list for its paginator on every page
view; at 300k notifications that count was most of the page's time. Here the
count stops at CAPPED_COUNT + 1 rows: up to the cap it is exact, past it the
list says "more than 10,000" (alerts/templates/admin/alerts/pagination.html),
pages go as far as the cap, and "select all across pages" is not offered (an
action then runs on what an operator narrowed down with filters or search, never
on an unknown number of rows). The alternative, PostgreSQL's planner estimate,
is fast but can be far off for a filtered list, and would show a guess as a count.
"""

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property

CAPPED_COUNT = 10_000


class CappedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        """The number of rows up to CAPPED_COUNT + 1: one query reading at most that many."""
        return self.object_list.order_by()[: CAPPED_COUNT + 1].count()

    @property
    def capped(self) -> bool:
        """More rows than CAPPED_COUNT: ``count`` is not the total."""
        return self.count > CAPPED_COUNT

    @property
    def cap_text(self) -> str:
        return f"{CAPPED_COUNT:,}"


class SortableOnlyChangeList(ChangeList):
    """Sorts only by the columns the admin declares sortable (``sortable_by``), also when a URL
    asks for another (``?o=``): a sort without an index reads and sorts the whole table."""

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None  # Django then leaves it out of the ordering
        return super().get_ordering_field(field_name)
