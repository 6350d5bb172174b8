"""The Django REST Framework peer for tests/probe.rs: a ModelViewSet behind a DefaultRouter, as
DRF's quickstart writes one, with token authentication under the `Bearer` keyword.

Run: python3 serve.py PORT TOKEN (with PEER_DB naming a fresh SQLite file). Creates the tables
and a user whose token is TOKEN, then serves on 127.0.0.1:PORT."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

port, token = sys.argv[1], sys.argv[2]
call_command("migrate", run_syncdb=True, verbosity=0)
user, _ = User.objects.get_or_create(username="probe")
Token.objects.get_or_create(user=user, key=token)
call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True, verbosity=0)
