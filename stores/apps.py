from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("Stores")

    def ready(self):
        from stores import cache
        from stores.models import Closure, OpeningHours, Store

        # What a cached store holds (stores/cache.py) is read again after any change to it.
        for model in (Store, OpeningHours, Closure):
            post_save.connect(cache.forget, sender=model, dispatch_uid=f"forget-{model.__name__}")
            post_delete.connect(
                cache.forget, sender=model, dispatch_uid=f"forget-{model.__name__}-deleted"
            )
