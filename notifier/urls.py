from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from notifier.history import views
from registrations import token_views
from registrations.api import RegistrationTestAlias, RegistrationViewSet, not_found
from registrations.api_sources import SourceViewSet
from registrations.api_upsert import RegistrationByNameView, RegistrationsApplyView

admin.site.site_header = "CodeDeploy Notifier"
admin.site.site_title = "CodeDeploy Notifier admin"
admin.site.index_title = "Registrations and teams"
admin.site.site_url = "/"

handler404 = not_found
router = SimpleRouter()
router.register("registrations", RegistrationViewSet, basename="registration")
router.register("sources", SourceViewSet, basename="source")
legacy_create = RegistrationViewSet.as_view({"get": "list", "post": "create"})
registration_test = RegistrationTestAlias.as_view({"post": "test"})

urlpatterns = [
    path("", views.deployment_list, name="deployment-list"),
    # <path:>: ids and names kept from older rows may hold a "/"; resend is matched first.
    path("deployments/<path:deployment_id>/resend/", views.delivery_resend, name="delivery-resend"),
    path("deployments/<path:deployment_id>/", views.deployment_detail, name="deployment-detail"),
    path("applications/<path:application>/", views.application_detail, name="application-detail"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("status/", views.status, name="status"),
    path("login/", views.SignInView.as_view(), name="sign-in"),
    path("logout/", views.SignOutView.as_view(), name="sign-out"),
    path("healthz", views.healthz, name="healthz"),
    path("tokens/", token_views.token_list, name="token-list"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke, name="token-revoke"),
    path("admin/", admin.site.urls),
    # The original service's path: POST /registrations.
    path("registrations", legacy_create, name="registration-legacy"),
    path("api/registrations/<int:pk>/test", registration_test, name="registration-test"),
    path(
        "api/registrations/by-name/<str:application>",
        RegistrationByNameView.as_view(),
        name="registration-by-name",
    ),
    path("api/registrations/apply", RegistrationsApplyView.as_view(), name="registrations-apply"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

# The demo inbox (`make demo`): only where the demo app is installed; its views answer 404
# unless NOTIFIER_DEMO. Referred to by dotted string: the product never imports the demo.
if apps.is_installed("notifier.demo"):
    urlpatterns.append(path("demo/", include("notifier.demo.urls")))
