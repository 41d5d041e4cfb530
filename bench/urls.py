"""The project's URLs; the bench's bare baseline views go under ``/_bench/``."""

from config.urls import handler400, handler404, handler500, urlpatterns  # noqa: F401
