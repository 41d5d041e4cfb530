from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the application writes (logs, counters): shown in the admin, never added, edited
    or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
