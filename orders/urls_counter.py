from django.urls import path

from orders.views import counter

app_name = "counter"

urlpatterns = [
    path("", counter.home, name="home"),
    path("<slug:code>/", counter.queue, name="queue"),
    path("<slug:code>/scan/", counter.scan, name="scan"),
    path("<slug:code>/orders/<str:number>/", counter.order_detail, name="order"),
    path("<slug:code>/orders/<str:number>/status/", counter.change_status, name="status"),
    path("<slug:code>/orders/<str:number>/verify/", counter.verify_code, name="verify"),
    path("<slug:code>/orders/<str:number>/collect/", counter.collect, name="collect"),
    path("<slug:code>/orders/<str:number>/cancel/", counter.cancel, name="cancel"),
    path("<slug:code>/orders/<str:number>/unlock/", counter.unlock_code, name="unlock"),
]
