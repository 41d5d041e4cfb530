"""Request middleware of the web shop."""

from django.conf import settings
from django.contrib import messages
from django.utils.translation import gettext as _

from shop.selectors import handoff_claimed
from shop.web import SESSION_HANDOFF, current_cart


class HandoffNoticeMiddleware:
    """The browser that handed its cart to another device hears about it on its next page
    load, instead of finding its cart silently empty. Said once; a code that ran out unclaimed
    is forgotten without a word."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method == "GET"
            and not getattr(request, "htmx", False)
            and not request.path.startswith("/api/")
            and settings.SESSION_COOKIE_NAME in request.COOKIES  # no session, no handoff
            and request.session.get(SESSION_HANDOFF)
        ):
            claimed = handoff_claimed(
                code=request.session[SESSION_HANDOFF], cart=current_cart(request)
            )
            if claimed is not False:
                del request.session[SESSION_HANDOFF]
            if claimed:
                messages.info(request, _("Your cart was moved to another device."))
        return self.get_response(request)
