"""SQS across `kill -9`: a server under the sync durability policy is killed in
the middle of work (messages received, deleted, hidden, a FIFO group in flight, a
dead-letter redrive count part-way) and restarted on the same data directory.
Nothing acknowledged may be lost, nothing deleted may come back, the FIFO group
stays held while its message's visibility runs, and receive counts carry over,
so the dead-letter move happens at the receive the policy says."""

from __future__ import annotations

import json

from _support import make_client, wait_until


def _receive(client, url: str, **params) -> list:
    params.setdefault("MaxNumberOfMessages", 10)
    return client.receive_message(QueueUrl=url, AttributeNames=["All"], **params).get("Messages", [])


def _receive_bodies(client, url: str, count: int) -> list:
    """Receives (with 0 s visibility, so nothing stays hidden) until `count`
    distinct bodies came, within a bounded wait."""
    bodies: set[str] = set()
    wait_until(
        lambda: bodies.update(m["Body"] for m in _receive(client, url, VisibilityTimeout=0, WaitTimeSeconds=1))
        or len(bodies) >= count,
        10,
        f"{count} distinct messages",
    )
    return sorted(bodies)


def _before_crash(client) -> dict:
    """Builds the state the crash interrupts; returns what the checks need."""
    work = client.create_queue(QueueName="work")["QueueUrl"]
    dlq = client.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    poison = client.create_queue(QueueName="poison", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    fifo = client.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

    for i in range(6):
        client.send_message(QueueUrl=work, MessageBody=f"w{i}")
    # w0 and w1 deleted; w2 hidden for 10 minutes; w3..w5 visible again.
    received = {m["Body"]: m for m in _receive(client, work, VisibilityTimeout=600)}
    assert sorted(received) == [f"w{i}" for i in range(6)]
    for body in ("w0", "w1"):
        client.delete_message(QueueUrl=work, ReceiptHandle=received[body]["ReceiptHandle"])
    for body in ("w3", "w4", "w5"):
        client.change_message_visibility(QueueUrl=work, ReceiptHandle=received[body]["ReceiptHandle"], VisibilityTimeout=0)

    # Two receives of three before the move to the dead-letter queue.
    client.send_message(QueueUrl=poison, MessageBody="bad")
    for count in (1, 2):
        got = _receive(client, poison, VisibilityTimeout=0, WaitTimeSeconds=1)
        assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in got] == [("bad", str(count))]

    # Group g: f0 in flight for 10 minutes, f1 waiting behind it; group h free.
    for i, group in enumerate("ggh"):
        client.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId=group, MessageDeduplicationId=f"d{i}")
    first = _receive(client, fifo, VisibilityTimeout=600, MaxNumberOfMessages=1)
    assert [m["Body"] for m in first] == ["f0"]
    # A move task back from a dead-letter queue, paced to 1 message/s, running.
    moves_dlq = client.create_queue(QueueName="moves-dlq")["QueueUrl"]
    moves_arn = client.get_queue_attributes(QueueUrl=moves_dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    to_dlq = json.dumps({"deadLetterTargetArn": moves_arn, "maxReceiveCount": 1})
    moves = client.create_queue(QueueName="moves", Attributes={"RedrivePolicy": to_dlq})["QueueUrl"]
    for i in range(3):
        client.send_message(QueueUrl=moves, MessageBody=f"m{i}")
    assert len(_receive(client, moves, VisibilityTimeout=0, WaitTimeSeconds=1)) == 3
    assert _receive(client, moves, VisibilityTimeout=0) == []
    client.start_message_move_task(SourceArn=moves_arn, MaxNumberOfMessagesPerSecond=1)
    # The last acknowledged change before the crash: a send.
    client.send_message(QueueUrl=work, MessageBody="last")
    return {
        "work": work, "poison": poison, "dlq": dlq, "fifo": fifo, "f0": first[0], "w2": received["w2"],
        "moves": moves, "moves_dlq": moves_dlq, "moves_arn": moves_arn,
    }


def test_kill_9_keeps_acknowledged_state(server_factory):
    """After kill -9 and a restart: acknowledged sends are all there, deleted
    messages are not, a hidden message stays hidden, the FIFO group stays held
    until its in-flight message is made visible (then comes back with receive
    count 2, before the message behind it), the third receive of a
    maxReceiveCount-3 message still returns it while the fourth moves it, and a
    move task cut short is FAILED with each of its messages in one queue or both."""
    first = server_factory(extra_args=["--durability", "sync"])
    state = _before_crash(make_client(first.url, service="sqs"))
    assert first.crash() == -9

    second = server_factory(root=first.root, extra_args=["--durability", "sync"])
    client = make_client(second.url, service="sqs")
    work, poison, dlq, fifo = state["work"], state["poison"], state["dlq"], state["fifo"]

    assert _receive_bodies(client, work, 4) == ["last", "w3", "w4", "w5"]
    counts = client.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1", counts
    # The hidden message's handle from before the crash still works.
    client.change_message_visibility(QueueUrl=work, ReceiptHandle=state["w2"]["ReceiptHandle"], VisibilityTimeout=0)
    again = _receive(client, work, WaitTimeSeconds=1, VisibilityTimeout=600)
    assert "w2" in [m["Body"] for m in again]
    assert {m["Body"] for m in again} <= {"w2", "w3", "w4", "w5", "last"}
    assert not {"w0", "w1"} & {m["Body"] for m in again}

    # FIFO: group g is held by f0 (in flight); only h's message is receivable.
    got = _receive(client, fifo, VisibilityTimeout=600, WaitTimeSeconds=1)
    assert [m["Body"] for m in got] == ["f2"]
    assert _receive(client, fifo, VisibilityTimeout=600) == []
    client.change_message_visibility(QueueUrl=fifo, ReceiptHandle=state["f0"]["ReceiptHandle"], VisibilityTimeout=0)
    got = _receive(client, fifo, VisibilityTimeout=600, WaitTimeSeconds=1)
    assert [m["Body"] for m in got] == ["f0", "f1"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert got[0]["Attributes"]["SequenceNumber"] == state["f0"]["Attributes"]["SequenceNumber"]

    # Redrive: receive 3 returns it, receive 4 moves it, keeping its count.
    third = _receive(client, poison, VisibilityTimeout=0, WaitTimeSeconds=1)
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in third] == [("bad", "3")]
    assert _receive(client, poison, VisibilityTimeout=0, WaitTimeSeconds=1) == []
    moved = wait_until(lambda: _receive(client, dlq, WaitTimeSeconds=1), 5, "the moved message in the DLQ")
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in moved] == [("bad", "4")]

    # The interrupted move task: FAILED, and no message lost (at least once).
    tasks = client.list_message_move_tasks(SourceArn=state["moves_arn"])["Results"]
    assert [t["Status"] for t in tasks] == ["FAILED"]
    bodies = {
        m["Body"] for url in (state["moves"], state["moves_dlq"]) for m in _receive(client, url, VisibilityTimeout=0)
    }
    assert bodies == {"m0", "m1", "m2"}
