"""Background work of the reports: building the 表24 package (DESIGN.md decision 10: long work runs in the task
worker, with a progress page; ``services.package_build_start`` records the build and enqueues it here), and
exporting each annexed form into the annex store once it is signed."""

from __future__ import annotations

from django_tasks import task


@task()
def package_build(build_id: int) -> dict[str, object]:
    """Run one asked build; the build row carries its progress and outcome."""
    from handover.core.context import command_context
    from handover.reports import services

    with command_context("task"):
        build = services.package_build_run(build_id=build_id)
    return {"build": build.pk, "state": build.state}


@task()
def annex_export(form_id: int) -> dict[str, object]:
    """Export a form just signed into the package's annex store (services/annexes.py)."""
    from handover.core.context import command_context
    from handover.reports.services import annexes

    with command_context("task"):
        exported = annexes.annex_export(form_id=form_id)
    return {"form": form_id, "exported": exported}
