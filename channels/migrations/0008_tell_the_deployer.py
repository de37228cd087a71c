"""Email and SES setups can also send to the person who deployed, Slack setups mention them.

Setups that exist already keep sending as before (added as False); new email and SES setups
have it on (the field's default becomes True).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notification_channels", "0007_newrelic_nerdgraph"),
    ]

    operations = [
        migrations.AddField(
            model_name="emailsetup",
            name="notify_deployer",
            field=models.BooleanField(
                default=False,
                help_text="Also send to the person who deployed: their email from People rules, or the IAM Identity Center sign-in that created the deployment. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them, then sends to the recipients above alone.",
                verbose_name="also send to the person who deployed",
            ),
        ),
        migrations.AddField(
            model_name="sessetup",
            name="notify_deployer",
            field=models.BooleanField(
                default=False,
                help_text="Also send to the person who deployed: their email from People rules, or the IAM Identity Center sign-in that created the deployment. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them, then sends to the recipients above alone.",
                verbose_name="also send to the person who deployed",
            ),
        ),
        migrations.AddField(
            model_name="slacksetup",
            name="mention_deployer",
            field=models.BooleanField(
                default=False,
                help_text="Mention (@) the person who deployed, when People gives them a Slack user id. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them.",
                verbose_name="mention the person who deployed",
            ),
        ),
        migrations.AlterField(
            model_name="emailsetup",
            name="notify_deployer",
            field=models.BooleanField(
                default=True,
                help_text="Also send to the person who deployed: their email from People rules, or the IAM Identity Center sign-in that created the deployment. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them, then sends to the recipients above alone.",
                verbose_name="also send to the person who deployed",
            ),
        ),
        migrations.AlterField(
            model_name="sessetup",
            name="notify_deployer",
            field=models.BooleanField(
                default=True,
                help_text="Also send to the person who deployed: their email from People rules, or the IAM Identity Center sign-in that created the deployment. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them, then sends to the recipients above alone.",
                verbose_name="also send to the person who deployed",
            ),
        ),
    ]
