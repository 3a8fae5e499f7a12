from django.db import migrations, models


def existing_domains_are_platform_subdomains(apps, schema_editor):
    # Before this migration every domain was a company's own `{slug}.{BASE_DOMAIN}`, served as-is.
    Domain = apps.get_model("tenants", "Domain")
    Domain.objects.update(kind="subdomain", verified_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("tenants", "0003_schemapoolentry"),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="logo",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="domain",
            name="kind",
            field=models.CharField(
                choices=[("subdomain", "Platform subdomain"), ("custom", "Custom domain")],
                default="custom", max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="domain",
            name="verification_token",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="domain",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(existing_domains_are_platform_subdomains, migrations.RunPython.noop),
    ]
