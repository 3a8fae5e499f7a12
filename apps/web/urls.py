"""The agents' UI at `/app/` on a company's host."""

from django.urls import path

from apps.web.views import conversation, inbox, media, notifications, session

app_name = "web"

urlpatterns = [
    path("login/", session.login_view, name="login"),
    path("logout/", session.logout_view, name="logout"),
    path("profile/", session.profile_view, name="profile"),
    path("status/", session.status_view, name="status"),
    path("realtime-token/", session.realtime_token_view, name="realtime-token"),
    path("", inbox.inbox_view, name="inbox"),
    path("rows/", inbox.rows_view, name="rows"),
    path("counts/", inbox.counts_view, name="counts"),
    path("c/<int:conversation_id>/", conversation.conversation_view, name="conversation"),
    path("c/<int:conversation_id>/row/", inbox.row_view, name="row"),
    path("c/<int:conversation_id>/older/", conversation.older_view, name="older"),
    path("c/<int:conversation_id>/newer/", conversation.newer_view, name="newer"),
    path("c/<int:conversation_id>/item/<str:kind>/<int:item_id>/", conversation.item_view, name="item"),
    path("c/<int:conversation_id>/send/", conversation.send_view, name="send"),
    path("c/<int:conversation_id>/template/", conversation.send_template_view, name="send-template"),
    path("c/<int:conversation_id>/contact/", conversation.contact_view, name="contact"),
    path("c/<int:conversation_id>/<slug:action>/", conversation.action_view, name="action"),
    path("media/<int:media_id>/<str:variant>/", media.media_view, name="media"),
    path("notifications/", notifications.list_view, name="notifications"),
    path("notifications/read/", notifications.read_all_view, name="notifications-read"),
]
