from django.core.validators import RegexValidator
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)
    code = models.CharField(max_length=8, validators=[RegexValidator(r"^[A-Z]{2}[0-9]{4}$")])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "shop"
        ordering = ["id"]
