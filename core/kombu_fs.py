"""kombu's filesystem transport, with messages that appear in the queue only when complete.

The stock transport creates the message file in the queue folder and writes it afterwards;
readers take no lock, so a worker polling at the wrong moment reads half a message and dies
with a ``JSONDecodeError``. Here each message is written to a temporary folder beside the queue
folder (same file system) and ``os.replace()``-d into the queue folder: a reader sees the whole
file or none of it. Registered as the ``safefs://`` broker in ``config/celery.py``.

The channel also creates its folders, so a fresh checkout needs no setup step.
"""

import os
import tempfile
import uuid
from pathlib import Path
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for folder in (self.data_folder_in, self.data_folder_out, self.control_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
        self.tmp_folder.mkdir(parents=True, exist_ok=True)

    @property
    def tmp_folder(self) -> Path:
        default = Path(self.data_folder_out).with_name(Path(self.data_folder_out).name + ".tmp")
        return Path(self.transport_options.get("tmp_folder", default))

    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue`` in one atomic step."""
        # The name follows the stock transport: oldest first, then the queue after the first dot.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            fd, tmp_path = tempfile.mkstemp(dir=self.tmp_folder, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(str_to_bytes(dumps(payload)))
                os.replace(tmp_path, os.path.join(self.data_folder_out, name))
            except BaseException:
                Path(tmp_path).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to {self.data_folder_out}") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self):
        # Folders, not a server: no host to fall back to (and to warn about on every connect).
        return {"port": self.default_port}
