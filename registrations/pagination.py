"""Pages of API lists: `?page=` is one whole number, as the OpenAPI document says."""

from __future__ import annotations

import re

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

_WHOLE_NUMBER = re.compile(r"[0-9]+")


class StrictPageNumberPagination(PageNumberPagination):
    """DRF's page numbers without its extras: no `page=last`, no page given twice."""

    def get_page_number(self, request, paginator):
        given = request.query_params.getlist(self.page_query_param)
        if not given:
            return 1
        if len(given) > 1 or not _WHOLE_NUMBER.fullmatch(given[0]):
            raise NotFound(
                f"page must be one whole number (1 to {paginator.num_pages}), given once; "
                "follow the answer's next and previous links"
            )
        return given[0]
