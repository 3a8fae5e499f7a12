from django.urls import path

from conversa.realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [path("ws/v1/", RealtimeConsumer.as_asgi())]
