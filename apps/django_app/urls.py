from django.http import HttpResponse, JsonResponse
from django.urls import path


def hello(request):
    return HttpResponse(b"Hello, World!", content_type="text/plain")


def json_view(request):
    return JsonResponse({"message": "Hello, World!", "server": "wsgikit-bench", "items": [1, 2, 3]})


urlpatterns = [path("", hello), path("json", json_view)]
