from rest_framework import serializers

from shop.models import Customer


class CustomerSerializer(serializers.HyperlinkedModelSerializer):
    class Meta:
        model = Customer
        fields = ["url", "id", "name", "email", "code", "created"]
