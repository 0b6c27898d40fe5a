"""URLs for the error tests: the real ones plus views that raise."""

from django.urls import include, path
from rest_framework.views import APIView

from chexgold.urls import urlpatterns as real


class BoomAPIView(APIView):
    permission_classes: list = []

    def get(self, request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail /etc/passwd")


def boom_page(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("secret internal detail /etc/passwd")


urlpatterns = [path("boom/api/", BoomAPIView.as_view()), path("boom/page/", boom_page), *real]
_ = include
