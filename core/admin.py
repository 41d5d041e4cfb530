import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the application writes (logs, counters): shown in the admin, never added, edited
    or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EstimatedCountPaginator(Paginator):
    """Pages of a big table without counting it: up to ``EXACT_UP_TO`` rows the count is exact
    (a bounded ``COUNT`` over ``LIMIT``); beyond, PostgreSQL's planner estimate is used (the
    last pages of a million rows are never browsed; the search and filters narrow them)."""

    EXACT_UP_TO = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        bounded = queryset.order_by()[: self.EXACT_UP_TO + 1]
        exact = bounded.count()
        if exact <= self.EXACT_UP_TO or connections[queryset.db].vendor != "postgresql":
            return exact if exact <= self.EXACT_UP_TO else queryset.count()
        sql, params = queryset.order_by().query.sql_with_params()
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return max(int(plan[0]["Plan"]["Plan Rows"]), exact)
