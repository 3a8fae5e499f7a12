"""The agents' UI at `/app/` on a company's host."""

from django.urls import path

import apps.web.views.audiences as audience_views
import apps.web.views.audit as audit_views
import apps.web.views.automation as automation_views
import apps.web.views.campaigns as campaign_views
import apps.web.views.exports as export_views
import apps.web.views.flows as flow_views
import apps.web.views.imports as import_views
import apps.web.views.invitations as invitation_views
import apps.web.views.knowledge as knowledge_views
import apps.web.views.passwords as password_views
import apps.web.views.reports as report_views
import apps.web.views.sandbox as sandbox_views
import apps.web.views.security as security_views
import apps.web.views.settings as settings_views
import apps.web.views.starting as starting_views
import apps.web.views.tasks as task_views
import apps.web.views.team_chat as team_chat_views
import apps.web.views.teams as team_views
import apps.web.views.webhooks as webhook_views
from apps.web.views import contacts, conversation, inbox, media, notifications, session

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
    path("c/<int:conversation_id>/head/", conversation.head_view, name="head"),
    path("c/<int:conversation_id>/older/", conversation.older_view, name="older"),
    path("c/<int:conversation_id>/newer/", conversation.newer_view, name="newer"),
    path("c/<int:conversation_id>/item/<str:kind>/<int:item_id>/", conversation.item_view, name="item"),
    path("c/<int:conversation_id>/send/", conversation.send_view, name="send"),
    path("c/<int:conversation_id>/template/", conversation.send_template_view, name="send-template"),
    path("c/<int:conversation_id>/contact/", conversation.contact_view, name="contact"),
    path("c/<int:conversation_id>/<slug:action>/", conversation.action_view, name="action"),
    path("media/<int:media_id>/<str:variant>/", media.media_view, name="media"),
    path("contacts/", contacts.contacts_view, name="contacts"),
    path("new/", starting_views.new_conversation_view, name="new-conversation"),
    path("new/contacts/", starting_views.contact_choices_view, name="new-conversation-contacts"),
    path("contacts/<int:contact_id>/", contacts.contact_view, name="contact-detail"),
    path("notifications/", notifications.list_view, name="notifications"),
    path("notifications/read/", notifications.read_all_view, name="notifications-read"),
    path("team-chat/", team_chat_views.team_chat_view, name="team-chat"),
]

# Admin settings and the sandbox customer page.
urlpatterns += [
    path("settings/", settings_views.settings_view, name="settings"),
    path("settings/users/", settings_views.users_view, name="settings-users"),
    path("settings/users/<int:user_id>/role/", settings_views.user_role_view, name="settings-user-role"),
    path("settings/users/<int:user_id>/deactivate/", settings_views.user_deactivate_view,
         name="settings-user-deactivate"),
    path("settings/inboxes/", settings_views.inboxes_view, name="settings-inboxes"),
    path("settings/inboxes/<int:inbox_id>/", settings_views.inbox_view, name="settings-inbox"),
    path("settings/inboxes/<int:inbox_id>/templates/", settings_views.template_create_view,
         name="settings-template-create"),
    path("settings/inboxes/<int:inbox_id>/templates/<int:template_id>/delete/",
         settings_views.template_delete_view, name="settings-template-delete"),
    path("settings/teams/", team_views.teams_view, name="settings-teams"),
    path("settings/teams/<int:team_id>/", team_views.team_view, name="settings-team"),
    path("settings/teams/<int:team_id>/delete/", team_views.team_delete_view, name="settings-team-delete"),
    path("settings/teams/<int:team_id>/members/", team_views.member_set_view, name="settings-team-member"),
    path("settings/teams/<int:team_id>/members/<int:user_id>/remove/", team_views.member_remove_view,
         name="settings-team-member-remove"),
    path("settings/quick-replies/", settings_views.quick_replies_view, name="settings-quick-replies"),
    path("settings/quick-replies/<int:reply_id>/delete/", settings_views.quick_reply_delete_view,
         name="settings-quick-reply-delete"),
    path("settings/api-keys/", settings_views.api_keys_view, name="settings-api-keys"),
    path("settings/api-keys/<int:key_id>/revoke/", settings_views.api_key_revoke_view,
         name="settings-api-key-revoke"),
    path("settings/branding/", settings_views.branding_view, name="settings-branding"),
    path("settings/conversations/", settings_views.conversation_settings_view, name="settings-conversations"),
    path("settings/audit/", audit_views.audit_view, name="settings-audit"),
    path("settings/audit/export/", audit_views.audit_export_view, name="settings-audit-export"),
    path("sandbox/", sandbox_views.sandbox_view, name="sandbox"),
    path("sandbox/<int:inbox_id>/thread/", sandbox_views.thread_view, name="sandbox-thread"),
    path("sandbox/<int:inbox_id>/send/", sandbox_views.send_view, name="sandbox-send"),
    path("sandbox/<int:inbox_id>/receipts/", sandbox_views.receipts_view, name="sandbox-receipts"),
]

# Contacts → lists and segments; merge and erasure on a contact's page.
urlpatterns += [
    path("contacts/lists/", audience_views.lists_view, name="contact-lists"),
    path("contacts/lists/<int:list_id>/", audience_views.list_view, name="contact-list"),
    path("contacts/lists/<int:list_id>/delete/", audience_views.list_delete_view, name="contact-list-delete"),
    path("contacts/lists/<int:list_id>/members/<int:contact_id>/remove/",
         audience_views.list_member_remove_view, name="contact-list-member-remove"),
    path("contacts/add-to-list/", audience_views.add_to_list_view, name="contacts-add-to-list"),
    path("contacts/segments/", audience_views.segments_view, name="segments"),
    path("contacts/segments/count/", audience_views.segment_count_view, name="segment-count"),
    path("contacts/segments/<int:segment_id>/", audience_views.segment_view, name="segment"),
    path("contacts/segments/<int:segment_id>/delete/", audience_views.segment_delete_view,
         name="segment-delete"),
    path("contacts/<int:contact_id>/merge/", audience_views.merge_view, name="contact-merge"),
    path("contacts/<int:contact_id>/merge/candidates/", audience_views.merge_candidates_view,
         name="contact-merge-candidates"),
    path("contacts/<int:contact_id>/erase/", audience_views.erase_view, name="contact-erase"),
]

# Contact imports and exports.
urlpatterns += [
    path("contacts/import/", import_views.import_view, name="contacts-import"),
    path("contacts/import/preview/", import_views.preview_view, name="contacts-import-preview"),
    path("contacts/imports/<int:import_id>/", import_views.progress_view, name="contact-import"),
    path("contacts/imports/<int:import_id>/errors.csv", import_views.errors_csv_view,
         name="contact-import-errors"),
    path("exports/", export_views.exports_view, name="exports"),
    path("exports/<int:export_id>/download/", export_views.download_view, name="export-download"),
]

# Invitations and passwords (account email flows).

urlpatterns += [
    path("settings/users/invitations/", invitation_views.invitations_view, name="settings-invitations"),
    path("settings/invitations/<int:invitation_id>/resend/", invitation_views.resend_view,
         name="settings-invitation-resend"),
    path("settings/invitations/<int:invitation_id>/revoke/", invitation_views.revoke_view,
         name="settings-invitation-revoke"),
    path("invite/<str:token>/", invitation_views.accept_view, name="invite-accept"),
    path("profile/password/", password_views.change_view, name="password-change"),
    path("password/forgot/", password_views.forgot_view, name="password-forgot"),
    path("password/reset/<str:token>/", password_views.reset_view, name="password-reset"),
]

# Security: two-factor sign-in and sessions of the signed-in user; the company-wide requirement.
urlpatterns += [
    path("profile/security/", security_views.security_view, name="security"),
    path("settings/security/", security_views.require_two_factor_view, name="settings-security"),
]

# Campaigns: list, builder, live progress and report (managers).
urlpatterns += [
    path("flows/", flow_views.list_view, name="flows"),
    path("flows/<int:flow_id>/", flow_views.editor_view, name="flow"),
    path("flows/<int:flow_id>/publish/", flow_views.publish_view, name="flow-publish"),
    path("flows/<int:flow_id>/delete/", flow_views.delete_view, name="flow-delete"),
    path("flows/<int:flow_id>/simulate/", flow_views.simulate_view, name="flow-simulate"),
    path("campaigns/", campaign_views.list_view, name="campaigns"),
    path("campaigns/new/", campaign_views.new_view, name="campaign-new"),
    path("campaigns/audience-count/", campaign_views.audience_count_view, name="campaign-audience-count"),
    path("campaigns/preview/", campaign_views.preview_view, name="campaign-preview"),
    path("campaigns/media/", campaign_views.media_view, name="campaign-media"),
    path("campaigns/media/<int:media_id>/", campaign_views.media_view, name="campaign-media-status"),
    path("campaigns/<int:campaign_id>/", campaign_views.detail_view, name="campaign"),
    path("campaigns/<int:campaign_id>/edit/", campaign_views.edit_view, name="campaign-edit"),
    path("campaigns/<int:campaign_id>/report.csv", campaign_views.report_csv_view,
         name="campaign-report-csv"),
    path("campaigns/<int:campaign_id>/<slug:action>/", campaign_views.action_view, name="campaign-action"),
]

# Reports and the live dashboard (managers).
urlpatterns += [
    path("reports/", report_views.reports_view, name="reports"),
    path("reports/<slug:kind>.<slug:format>", report_views.export_view, name="report-export"),
]

# Settings → Automation (rules) and Macros; running a macro on a conversation.
urlpatterns += [
    path("settings/automation/", automation_views.rules_view, name="settings-automation"),
    path("settings/automation/new/", automation_views.rule_new_view, name="settings-automation-new"),
    path("settings/automation/<int:rule_id>/", automation_views.rule_edit_view,
         name="settings-automation-rule"),
    path("settings/automation/<int:rule_id>/toggle/", automation_views.rule_toggle_view,
         name="settings-automation-toggle"),
    path("settings/automation/<int:rule_id>/delete/", automation_views.rule_delete_view,
         name="settings-automation-delete"),
    path("settings/macros/", automation_views.macros_view, name="settings-macros"),
    path("settings/macros/new/", automation_views.macro_new_view, name="settings-macro-new"),
    path("settings/macros/<int:macro_id>/", automation_views.macro_edit_view, name="settings-macro"),
    path("settings/macros/<int:macro_id>/delete/", automation_views.macro_delete_view,
         name="settings-macro-delete"),
    path("c/<int:conversation_id>/macros/<int:macro_id>/", automation_views.macro_run_view, name="macro-run"),
]

# Settings → Webhooks (admins): endpoints, test sends and the delivery log.
urlpatterns += [
    path("settings/webhooks/", webhook_views.webhooks_view, name="settings-webhooks"),
    path("settings/webhooks/<int:webhook_id>/", webhook_views.webhook_view, name="settings-webhook"),
    path("settings/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
         webhook_views.delivery_redeliver_view, name="settings-webhook-redeliver"),
    path("settings/webhooks/<int:webhook_id>/<slug:action>/", webhook_views.webhook_action_view,
         name="settings-webhook-action"),
]

# Tasks: Mine / Team / Overdue, a task's page with its comments.
urlpatterns += [
    path("tasks/", task_views.tasks_view, name="tasks"),
    path("tasks/panel/", task_views.tasks_panel_view, name="tasks-panel"),
    path("tasks/<int:task_id>/", task_views.task_view, name="task"),
    path("tasks/<int:task_id>/status/<slug:status>/", task_views.task_status_view, name="task-status"),
    path("tasks/<int:task_id>/comments/", task_views.task_comment_view, name="task-comment"),
]

# Knowledge base: articles and categories (managers), the composer's article picker (everyone).
urlpatterns += [
    path("knowledge/", knowledge_views.knowledge_view, name="knowledge"),
    path("knowledge/new/", knowledge_views.article_edit_view, name="knowledge-new"),
    path("knowledge/preview/", knowledge_views.preview_view, name="knowledge-preview"),
    path("knowledge/picker/", knowledge_views.picker_view, name="knowledge-picker"),
    path("knowledge/<int:article_id>/", knowledge_views.article_edit_view, name="knowledge-article"),
    path("knowledge/<int:article_id>/<slug:action>/", knowledge_views.article_action_view,
         name="knowledge-article-action"),
    path("knowledge/categories/<int:category_id>/<slug:action>/", knowledge_views.category_action_view,
         name="knowledge-category-action"),
]
