"""URLs for the error tests: the real ones plus views that raise."""

from django.db import IntegrityError
from django.urls import include, path
from rest_framework.views import APIView

from chexgold.urls import urlpatterns as real


class BoomAPIView(APIView):
    permission_classes: list = []

    def get(self, request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail /etc/passwd")


class IntegrityBoomAPIView(APIView):
    permission_classes: list = []

    def post(self, request):  # type: ignore[no-untyped-def]
        raise IntegrityError('duplicate key value violates unique constraint "secret_index"')


def boom_page(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("secret internal detail /etc/passwd")


urlpatterns = [path("boom/api/", BoomAPIView.as_view()), path("boom/integrity/", IntegrityBoomAPIView.as_view()),
               path("boom/page/", boom_page), *real]
handler404 = "chexgold.error_views.page_not_found"
handler500 = "chexgold.error_views.server_error"
_ = include
