from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotator import views as annotator_views

urlpatterns = [
    path("", annotator_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("manage/", include("labeling.urls")),
    path("manage/", include("ml_worker.urls")),
    path("", include("annotator.urls")),
    path("statistics/", include("quality.urls")),
    path("admin/", admin.site.urls),
    path("healthz", annotator_views.healthz, name="healthz"),
    path("api/", include("chexgold.api_urls")),
    path("privacy/", include("privacy.urls")),  # access audit, session keep-alive
]
