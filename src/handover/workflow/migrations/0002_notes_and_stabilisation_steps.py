"""Give engagements already past 准备期 the steps added to steps.py: the 注意事项 N-01, N-02, N-05 (交接期)
and, for those in 稳定期, S-01…S-14. What exists is kept; only missing instances are created, as
services.steps.create_steps does (which stays idempotent, so ``handover workflow steps`` does the same later).
"""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone

NEW = ("N-01", "N-02", "N-05", *(f"S-{n:02d}" for n in range(1, 15)))
PHASES_BEFORE = {"handover": ("handover",), "stabilisation": ("handover", "stabilisation")}


def add_steps(apps, schema_editor):
    from handover.workflow import steps

    Engagement = apps.get_model("org", "Engagement")
    Site = apps.get_model("org", "Site")
    StepInstance = apps.get_model("workflow", "StepInstance")
    now = timezone.now()
    new = []
    for engagement in Engagement.objects.filter(phase__in=list(PHASES_BEFORE)):
        have = set(StepInstance.objects.filter(engagement=engagement).values_list("site_id", "step_id"))
        sites = list(Site.objects.filter(engagement=engagement, is_active=True).only("pk", "level"))
        for phase in PHASES_BEFORE[engagement.phase]:
            for step in (s for s in steps.for_phase(phase) if s.id in NEW):
                targets = [s for s in sites if step.applies_to(s.level)] if step.per_site else [None]
                new += [
                    StepInstance(
                        engagement=engagement, site=site, step_id=step.id, phase=phase, created_at=now
                    )
                    for site in targets
                    if (site.pk if site else None, step.id) not in have
                ]
    StepInstance.objects.bulk_create(new, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("workflow", "0001_initial"), ("org", "0001_initial")]

    operations = [migrations.RunPython(add_steps, migrations.RunPython.noop)]
