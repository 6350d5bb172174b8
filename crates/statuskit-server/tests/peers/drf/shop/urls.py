from django.urls import include, path
from rest_framework import routers
from rest_framework.schemas import get_schema_view

from shop import views

router = routers.DefaultRouter()
router.register(r"customers", views.CustomerViewSet)

urlpatterns = [
    path("", include(router.urls)),
    path("me/", views.Me.as_view(), name="me"),
    # DRF's OpenAPI document, in its default renderer: YAML.
    path("openapi", get_schema_view(title="Shop", version="1.0.0", public=True), name="openapi-schema"),
]
