"""`/console/` on BASE_DOMAIN (conversa.urls_public). Other console sections append their patterns."""

from django.urls import path

from tenants.console import auth, views

app_name = "console"

urlpatterns = [
    path("", views.companies_view, name="companies"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("security/", auth.security_view, name="security"),
    path("companies/new/", views.company_create_view, name="company-create"),
    path("companies/<int:company_id>/", views.company_view, name="company"),
    path("companies/<int:company_id>/created/", views.company_created_view, name="company-created"),
    path("companies/<int:company_id>/edit/", views.company_edit_view, name="company-edit"),
    path("companies/<int:company_id>/plan/", views.company_plan_view, name="company-plan"),
    path("companies/<int:company_id>/suspend/", views.company_suspend_view, name="company-suspend"),
    path("companies/<int:company_id>/activate/", views.company_activate_view, name="company-activate"),
    path("plans/", views.plans_view, name="plans"),
    path("plans/new/", views.plan_create_view, name="plan-create"),
    path("plans/<slug:code>/", views.plan_edit_view, name="plan-edit"),
    path("audit/", views.audit_view, name="audit"),
]
