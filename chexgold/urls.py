from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import directory_oidc
from accounts.forms import OwnPasswordChangeForm
from annotator import views as annotator_views

urlpatterns = [
    path("", annotator_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # OpenID Connect sign-in (404 unless configured; README "Directory sign-in")
    path("oidc/authenticate/", directory_oidc.oidc_authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", directory_oidc.oidc_callback, name="oidc_authentication_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(form_class=OwnPasswordChangeForm), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("manage/", include("labeling.urls")),
    path("manage/", include("ml_worker.urls")),
    path("", include("annotator.urls")),
    path("statistics/", include("quality.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the <link rel=icon> says: no 404 in the logs.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
    path("", include("operations.urls")),  # /healthz, /health/, /metrics
    path("api/", include("chexgold.api_urls")),
    path("privacy/", include("privacy.urls")),  # access audit, session keep-alive
]

# Under /api/ these answer problem details (JSON), elsewhere the templates/4xx/500 pages.
handler400 = "chexgold.error_views.bad_request"
handler403 = "chexgold.error_views.permission_denied"
handler404 = "chexgold.error_views.page_not_found"
handler500 = "chexgold.error_views.server_error"
