"""Load the bench's products into django-oscar's shop (run by Oscar's own virtualenv).

Idempotent: a few products of one product class with a stock record each (plenty of stock,
nothing allocated), one shipping country (so the address form needs no country) and the site's
domain. Shipping is Oscar's default repository (free shipping) and payment its default (none
taken). Prints the products' page paths as JSON for the client.
"""

import argparse
import json
from decimal import Decimal

import django

STOCK = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=20)
    args = parser.parse_args()
    django.setup()

    from django.apps import apps
    from django.db import transaction

    site_model = apps.get_model("sites", "Site")
    country_model = apps.get_model("address", "Country")
    partner_model = apps.get_model("partner", "Partner")
    stock_model = apps.get_model("partner", "StockRecord")
    class_model = apps.get_model("catalogue", "ProductClass")
    product_model = apps.get_model("catalogue", "Product")

    with transaction.atomic():
        site_model.objects.update_or_create(
            pk=1, defaults={"domain": "127.0.0.1", "name": "Oscar bench shop"}
        )
        country_model.objects.exclude(pk="ES").update(is_shipping_country=False)
        country_model.objects.update_or_create(
            iso_3166_1_a2="ES",
            defaults={
                "iso_3166_1_a3": "ESP",
                "iso_3166_1_numeric": "724",
                "printable_name": "Spain",
                "name": "Kingdom of Spain",
                "is_shipping_country": True,
            },
        )
        partner, _ = partner_model.objects.get_or_create(name="Bench partner")
        product_class, _ = class_model.objects.update_or_create(
            slug="bench-item",
            defaults={"name": "Bench item", "requires_shipping": True, "track_stock": True},
        )
        paths = []
        for i in range(1, args.products + 1):
            product, _ = product_model.objects.update_or_create(
                slug=f"bench-product-{i}",
                defaults={
                    "title": f"Bench product {i}",
                    "structure": "standalone",
                    "product_class": product_class,
                    "is_public": True,
                },
            )
            stock_model.objects.update_or_create(
                partner=partner,
                partner_sku=f"BENCH-{i:04d}",
                defaults={
                    "product": product,
                    "price_currency": "EUR",
                    "price": Decimal("9.90") + i,
                    "num_in_stock": STOCK,
                    "num_allocated": 0,
                },
            )
            paths.append(product.get_absolute_url())
    print(json.dumps(paths))


if __name__ == "__main__":
    main()
