from django.db import migrations

PLANS = [
    dict(code="free", name="Free", monthly_price=0, max_agents=3, max_inboxes=1,
         max_contacts=1000, max_monthly_outbound_messages=1000, max_storage_mb=500,
         api_requests_per_minute=60, campaigns=False, flows=False, api_access=False,
         webhooks=False, knowledge_base=False, team_chat=True, reports_export=False,
         white_label=False),
    dict(code="pro", name="Pro", monthly_price=99, max_agents=20, max_inboxes=5,
         max_contacts=50000, max_monthly_outbound_messages=100000, max_storage_mb=20000,
         api_requests_per_minute=600, campaigns=True, flows=True, api_access=True,
         webhooks=True, knowledge_base=True, team_chat=True, reports_export=True,
         white_label=False),
    dict(code="enterprise", name="Enterprise", monthly_price=499, max_agents=None,
         max_inboxes=None, max_contacts=None, max_monthly_outbound_messages=None,
         max_storage_mb=None, api_requests_per_minute=3000, campaigns=True, flows=True,
         api_access=True, webhooks=True, knowledge_base=True, team_chat=True,
         reports_export=True, white_label=True),
]


def create_plans(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    Plan = apps.get_model("tenants", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(code=plan["code"], defaults=plan)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]
    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
