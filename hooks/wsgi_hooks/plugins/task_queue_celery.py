"""Celery workers are planned but not generated yet: refuse the answer rather than produce a project without them."""


def validate(answers):
    yield "task_queue: 'celery' is not available yet in this template version; choose task_queue=none"
