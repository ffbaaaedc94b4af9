"""A Python task queue on SQS through shardlog: Celery with kombu's SQS broker
(boto3 to create queues, pycurl for its asynchronous receives) sends a task to a
queue, a worker (in this process, solo pool) receives it, runs it and deletes
it. The task's side effect (a file with its result) shows it ran, exactly once,
and the queue ends empty."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from celery import Celery
from celery.contrib.testing.worker import start_worker

from _support import ACCESS_KEY, REGION, SECRET_KEY, make_client, unique_name, wait_until


def _celery_app(endpoint: str, queue: str) -> Celery:
    address = urllib.parse.urlsplit(endpoint)
    app = Celery("shardlog_sqs", broker=f"sqs://{ACCESS_KEY}:{SECRET_KEY}@{address.hostname}:{address.port}")
    app.conf.update(
        broker_transport_options={
            "region": REGION,
            "is_secure": False,
            # Short long polls, so that the worker stops quickly at the end.
            "wait_time_seconds": 1,
            "polling_interval": 0.1,
            "visibility_timeout": 60,
        },
        broker_connection_retry_on_startup=False,
        task_default_queue=queue,
        worker_hijack_root_logger=False,
    )
    return app


def test_celery_task_runs_once_through_an_sqs_queue(endpoint, tmp_path):
    """A task sent with `.delay()` runs once in the worker (its file holds
    6 * 7 written once), and its message is deleted afterwards."""
    queue = unique_name("celery")
    app = _celery_app(endpoint, queue)
    runs = tmp_path / "runs.txt"

    @app.task(name="multiply")
    def multiply(x: int, y: int, path: str) -> int:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{x * y}\n")
        return x * y

    sqs = make_client(endpoint, service="sqs")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15):
        multiply.delay(6, 7, str(runs))
        wait_until(lambda: runs.exists() and runs.read_text() == "42\n", 30, "the task's side effect")
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]

        def drained():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            return attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

        wait_until(drained, 15, "the task's message to be deleted")
    assert Path(runs).read_text() == "42\n", "ran exactly once"
