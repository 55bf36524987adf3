"""Publisher confirms with many publishes in flight, on a kombu channel (py-amqp transport).

kombu's own `confirm_publish` transport option makes every publish wait for its ack, so
only one confirm is ever in flight. py-amqp also offers confirms as events: after
`channel.confirm_select()`, `channel.events["basic_ack"]` / `["basic_nack"]` callbacks get
(delivery_tag, multiple) while the connection's events are drained. ConfirmWindow uses
that: publish through a normal kombu Producer on the channel, call `published()` after
each publish, and `wait(n)` to drain events until at most n confirms are outstanding.
"""

import socket

from confirm_tracker import ConfirmTracker
from interop_common import Deadline, ScenarioFailure


class ConfirmWindow(ConfirmTracker):
    def __init__(self, connection, channel):
        super().__init__()
        self.connection = connection
        channel.confirm_select()
        channel.events["basic_ack"].add(lambda tag, multiple: self.settle(tag, multiple))
        channel.events["basic_nack"].add(lambda tag, multiple: self.settle(tag, multiple, False))

    def wait(self, outstanding=0, seconds=30):
        """Drain the connection's events until at most `outstanding` confirms are pending."""
        deadline = Deadline(seconds)
        while self.outstanding > outstanding:
            try:
                self.connection.drain_events(timeout=max(0.01, deadline.remaining()))
            except socket.timeout:
                pass
            if deadline.expired() and self.outstanding > outstanding:
                raise ScenarioFailure("%d publishes unconfirmed after %ss"
                                      % (self.outstanding, seconds))
