"""The tenant REST API, `/api/v1/` on every company's host."""

from ninja import NinjaAPI

from ninja_api.auth import TenantAuth
from ninja_api.errors import install_error_handlers
from ninja_api.routers import (
    api_keys,
    audit_logs,
    auth,
    automation,
    campaigns,
    contact_imports,
    contact_lists,
    contacts,
    conversations,
    exports,
    flows,
    inboxes,
    invitations,
    knowledge,
    media,
    notifications,
    passwords,
    quick_replies,
    reports,
    segments,
    tasks,
    team_chat,
    teams,
    users,
    webhooks,
)

api = NinjaAPI(
    title="Conversa API",
    version="1",
    description="The API of one company on Conversa. Every error has the body "
    '`{"error": {"code", "message", "details"}}`.',
    urls_namespace="api-v1",
    auth=TenantAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

api.add_router("/auth", auth.router)
api.add_router("/auth/invitations", invitations.accept_router)
api.add_router("/auth/password", passwords.router)
api.add_router("/users/invitations", invitations.router)
api.add_router("/users", users.router)
api.add_router("/api-keys", api_keys.router)
api.add_router("/contacts/imports", contact_imports.router)
api.add_router("/contacts", contacts.router)
api.add_router("/contact-fields", contacts.fields_router)
api.add_router("/inboxes", inboxes.router)
api.add_router("/teams", teams.router)
api.add_router("/conversations", conversations.router)
api.add_router("/quick-replies", quick_replies.router)
api.add_router("/notifications", notifications.router)
api.add_router("/audit-logs", audit_logs.router)
api.add_router("/media", media.router)
api.add_router("/contact-lists", contact_lists.router)
api.add_router("/segments", segments.router)
api.add_router("/exports", exports.router)
api.add_router("/campaigns", campaigns.router)
api.add_router("/reports", reports.router)
api.add_router("/team-chat", team_chat.router)
api.add_router("/automation-rules", automation.rules_router)
api.add_router("/macros", automation.macros_router)
api.add_router("/conversations", automation.conversation_macros_router)
api.add_router("/webhooks", webhooks.router)
api.add_router("/knowledge", knowledge.router)
api.add_router("/tasks", tasks.router)
api.add_router("/flows", flows.router)
