"""The demo's three logins (a shopper, a clerk, a manager) and what managers may do in the
admin."""

DEMO_PASSWORD = "omnicollect-demo"
MANAGER_GROUP = "Store managers"

SHOPPER = {"email": "shopper@example.com", "name": "Lucía Fernández", "phone": "+34612345678"}
CLERK = {"email": "clerk@example.com", "name": "Javier Martín"}
MANAGER = {"email": "manager@example.com", "name": "Carmen Ruiz"}

# Managers maintain stores and the catalogue in the admin and may look at orders and customers;
# order status only changes through the counter and its services.
MANAGER_FULL_APPS = ("stores", "shop")
MANAGER_VIEW_APPS = ("orders", "customers")
