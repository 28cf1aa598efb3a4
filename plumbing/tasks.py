"""Enqueueing by a task's registered name.

A Celery task module imports the services it wraps; a service that queues the next step would import the task
module back, a circle. So services ask Celery for the task by its name (names are stable: routes and beat
entries use them too), and the task modules stay thin wrappers that nothing below them imports. Each app's
AppConfig.ready() imports its task module, so the names are registered in every process (web, commands,
workers), not only in workers that autodiscover them.
"""

from celery import current_app


def task(name: str):
    """The registered task called `name` (for example "reports.tasks.build_report"), ready for delay()."""
    return current_app.tasks[name]
