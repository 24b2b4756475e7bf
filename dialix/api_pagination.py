"""Paging of the API: page numbers for small lists (operators, checklists), cursors for big ones (calls, utterances),
each with a `page_size` parameter capped at MAX_PAGE_SIZE."""

from rest_framework.pagination import CursorPagination, PageNumberPagination

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class NumberedPagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class StableCursorPagination(CursorPagination):
    """Opaque `next`/`previous` cursors: a page never repeats or skips a row when rows are added meanwhile."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
