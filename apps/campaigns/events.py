"""Events of the campaigns app and the `campaign.progress` frame, for managers only.

`campaign.progress` `{id, status, total, queued, sent, delivered, read, failed, skipped}` goes to
the groups `admins` and `supervisors` of the campaign's company (agents never get it): on every
status change and at least once a second while the sender works.
"""

from apps.campaigns.models import Campaign
from apps.campaigns.selectors import campaign_stats
from conversa.realtime.fanout import realtime_payload

CAMPAIGN_PROGRESS = "campaign.progress"
# For outbound webhooks (SPEC §12): the campaign reached completed, cancelled or failed.
CAMPAIGN_FINISHED = "campaign.finished"
MANAGERS = ["admins", "supervisors"]


def progress_data(campaign: Campaign) -> dict:
    return {"id": campaign.pk, "status": campaign.status, **campaign_stats(campaign.pk)}


@realtime_payload(CAMPAIGN_PROGRESS)
def campaign_progress_frame(event):
    campaign = Campaign.objects.filter(pk=event.data["campaign_id"]).first()
    if campaign is None:
        return None
    return progress_data(campaign), MANAGERS
