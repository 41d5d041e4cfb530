"""Bare Django views: the least a checkout, an HTML page and a JSON endpoint can do, served by
the same gunicorn and middleware as the app, so each app figure has a baseline beside it.

- ``checkout``: in one transaction, insert an order row, then one conditional stock decrement
  (the UPDATE last, just before COMMIT); the insert is rolled back when the stock is short. On
  the bench's own tables ``bench_stock`` / ``bench_order`` (made by ``bench.db``).
- ``template_page``: one query for 20 variants, rendered by a 20-row template.
- ``json_list``: the same query answered as JSON.
"""

import json

from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shop.models import Variant

PAGE = engines["django"].from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bench</title></head>
<body><table>
{% for v in variants %}<tr><td>{{ v.sku }}</td><td>{{ v.title }}</td><td>{{ v.price }}</td>\
<td>{{ v.currency }}</td></tr>
{% endfor %}</table></body></html>"""
)

FIELDS = ("sku", "title", "price", "currency")


def _twenty():
    return list(Variant.objects.order_by("id").values(*FIELDS)[:20])


@csrf_exempt
@require_POST
def checkout(request):
    try:
        stock_id = int(json.loads(request.body)["stock"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"code": "bad_input"}, status=400)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_order (stock_id, quantity, created_at) "
            "VALUES (%s, 1, now()) RETURNING id",
            [stock_id],
        )
        order_id = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE bench_stock SET reserved = reserved + 1 "
            "WHERE id = %s AND on_hand >= reserved + 1",
            [stock_id],
        )
        if cursor.rowcount != 1:
            transaction.set_rollback(True)
            return JsonResponse({"code": "out_of_stock"}, status=409)
    return JsonResponse({"order": order_id}, status=201)


@require_GET
def template_page(request):
    return HttpResponse(PAGE.render({"variants": _twenty()}, request))


@require_GET
def json_list(request):
    return JsonResponse({"results": [{**v, "price": str(v["price"])} for v in _twenty()]})
