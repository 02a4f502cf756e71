# Access reviews (issue 7): when the owners last confirmed who can act, when next.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_customer_one_level_trigger"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "interval_days",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (30, "30 days"),
                            (60, "60 days"),
                            (90, "90 days"),
                            (180, "180 days"),
                            (365, "365 days"),
                        ],
                        default=90,
                        verbose_name="review every",
                    ),
                ),
                ("due_at", models.DateTimeField(db_index=True, verbose_name="next review due")),
                (
                    "reminded_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="owners reminded"),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last confirmed"),
                ),
                (
                    "confirmed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="confirmed by",
                    ),
                ),
                (
                    "customer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="access_review",
                        to="accounts.customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "access review",
                "verbose_name_plural": "access reviews",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("interval_days__gte", 7), ("interval_days__lte", 366)),
                        name="accessreview_interval_sensible",
                    )
                ],
            },
        ),
    ]
