"""Page-number pagination: ?page= and ?per_page= (also ?page_size=)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class AlertPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "per_page"
    max_page_size = 100

    def get_page_size(self, request):
        for name in ("per_page", "page_size"):
            raw = request.query_params.get(name)
            if raw is None:
                continue
            try:
                size = int(raw)
            except ValueError:
                raise ValidationError({name: "Must be a whole number between 1 and 100."}) from None
            if not 1 <= size <= self.max_page_size:
                raise ValidationError({name: "Must be a whole number between 1 and 100."})
            return size
        return self.page_size
