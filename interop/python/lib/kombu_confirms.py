"""Publisher confirms with many publishes in flight, on a kombu channel (py-amqp transport).

kombu's own `confirm_publish` transport option makes every publish wait for its ack, so
only one confirm is ever in flight. py-amqp also offers confirms as events: after
`channel.confirm_select()`, `channel.events["basic_ack"]` / `["basic_nack"]` callbacks get
(delivery_tag, multiple) while the connection's events are drained. ConfirmWindow uses
that: publish through a normal kombu Producer on the channel, call `published()` after
each publish, and `wait(n)` to drain events until at most n confirms are outstanding.
"""

import collections
import socket

from interop_common import Deadline, ScenarioFailure


class ConfirmWindow:
    def __init__(self, connection, channel):
        self.connection = connection
        self.next_tag = 1
        self.unsettled = collections.deque()  # published tags, in order (some maybe settled)
        self.settled_alone = set()  # tags in `unsettled` confirmed singly, out of order
        self.acked = 0
        self.nacked = []
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)

    @property
    def outstanding(self):
        return len(self.unsettled) - len(self.settled_alone)

    def published(self):
        """Record one publish on the channel (delivery tags count up from 1)."""
        self.unsettled.append(self.next_tag)
        self.next_tag += 1

    def _settle(self, tag, multiple):
        """The tags a confirm settles (fails on a tag never published or settled twice)."""
        if multiple:
            tags = []
            while self.unsettled and self.unsettled[0] <= tag:
                t = self.unsettled.popleft()
                if t in self.settled_alone:
                    self.settled_alone.discard(t)
                else:
                    tags.append(t)
        else:
            if (tag in self.settled_alone or not self.unsettled or tag < self.unsettled[0]
                    or tag >= self.next_tag):
                raise ScenarioFailure("confirm for unknown or settled delivery tag %d" % tag)
            self.settled_alone.add(tag)
            tags = [tag]
        while self.unsettled and self.unsettled[0] in self.settled_alone:
            self.settled_alone.discard(self.unsettled.popleft())
        return tags

    def _on_ack(self, tag, multiple):
        self.acked += len(self._settle(tag, multiple))

    def _on_nack(self, tag, multiple):
        self.nacked += self._settle(tag, multiple)

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
