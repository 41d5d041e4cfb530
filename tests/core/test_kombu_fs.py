"""The embedded broker (safefs://): messages reach the queue whole or not at all."""

import pytest
from kombu import Connection, Consumer, Producer, Queue
from kombu.exceptions import ChannelError

import config.celery  # noqa: F401  (registers the safefs:// transport)
import core.kombu_fs


def connect(folder):
    return Connection(
        "safefs://",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.01,
        },
    )


def test_message_round_trip_through_fresh_folders(tmp_path):
    queue = Queue("jobs", routing_key="jobs")
    received = []

    def on_message(body, message):
        received.append(body)
        message.ack()

    with connect(tmp_path) as conn:
        Producer(conn.default_channel).publish(
            {"task": "expire_holds"}, routing_key="jobs", declare=[queue]
        )
        with Consumer(conn, [queue], callbacks=[on_message]):
            conn.drain_events(timeout=2)

    assert received == [{"task": "expire_holds"}]
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "queue.tmp").iterdir()) == []


def test_failed_write_leaves_nothing_in_the_queue(tmp_path, monkeypatch):
    queue = Queue("jobs", routing_key="jobs")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    with connect(tmp_path) as conn:
        producer = Producer(conn.default_channel)
        queue(conn.default_channel).declare()
        monkeypatch.setattr(core.kombu_fs.os, "replace", disk_full)
        with pytest.raises(ChannelError):
            producer.publish({"task": "expire_holds"}, routing_key="jobs")

    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "queue.tmp").iterdir()) == []
