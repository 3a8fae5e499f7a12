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

# Custom domains and branding of a company (tenants/console/domains.py).
from tenants.console import domains  # noqa: E402

urlpatterns += [
    path("companies/<int:company_id>/domains/add/", domains.domain_add_view, name="domain-add"),
    path("companies/<int:company_id>/domains/<int:domain_id>/verify/", domains.domain_verify_view,
         name="domain-verify"),
    path("companies/<int:company_id>/domains/<int:domain_id>/make-primary/",
         domains.domain_make_primary_view, name="domain-make-primary"),
    path("companies/<int:company_id>/domains/<int:domain_id>/remove/", domains.domain_remove_view,
         name="domain-remove"),
    path("companies/<int:company_id>/branding/", domains.branding_view, name="company-branding"),
    path("companies/<int:company_id>/logo", domains.logo_view, name="company-logo"),
]
