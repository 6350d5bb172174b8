from rest_framework import permissions, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.models import Customer
from shop.serializers import CustomerSerializer


class CustomerViewSet(viewsets.ModelViewSet):
    """Customers: list, create, read, replace, update, delete."""

    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer


class Me(APIView):
    """The signed-in user."""

    permission_classes = [permissions.IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.username})
