"""A view that reads an upload with no form in front of it, for tests of refused uploads."""

from django.http import HttpResponse
from django.urls import path


def echo(request):
    return HttpResponse(request.FILES["file"].read())


urlpatterns = [path("echo", echo)]
