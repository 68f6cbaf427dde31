"""The benchmark's baseline: the product's URLs plus one view that does a single INSERT.

Used only by bench/submission_path.py through ROOT_URLCONF, so both run in the same server.
"""

from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import path

from madoguchi.audit.models import AuditLog
from madoguchi.urls import urlpatterns as product_urlpatterns


def insert_one(request):
    if request.method == "POST":
        AuditLog.objects.create(
            actor_label="bench", action="bench.insert", object_type="bench", object_id="1"
        )
        return HttpResponse("ok")
    get_token(request)
    return HttpResponse("ready")


urlpatterns = [path("bench/insert/", insert_one), *product_urlpatterns]
