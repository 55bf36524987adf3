"""Bookkeeping for publisher confirms: which delivery tags are settled, acked or nacked.

A channel in confirm mode numbers its publishes 1, 2, 3...; the broker settles them with
basic.ack / basic.nack, each for one tag or, with `multiple`, for every unsettled tag up to
it. Confirms can arrive out of order (e.g. messages routed to different queues), so a
multiple ack may follow single acks for later tags. ConfirmTracker keeps that exact:
`published()` per publish, `settle(tag, multiple, ack)` per confirm frame (a confirm for a
tag never published or already settled fails the scenario).
"""

import collections

from interop_common import ScenarioFailure


class ConfirmTracker:
    def __init__(self):
        self.next_tag = 1
        self.unsettled = collections.deque()  # published tags in order, some settled singly
        self.settled_alone = set()  # tags still in `unsettled` that a single confirm settled
        self.acked = 0
        self.nacked = []

    @property
    def published_count(self):
        return self.next_tag - 1

    @property
    def outstanding(self):
        return len(self.unsettled) - len(self.settled_alone)

    def published(self):
        self.unsettled.append(self.next_tag)
        self.next_tag += 1

    def settle(self, tag, multiple, ack=True):
        """Record one confirm frame; returns the tags it settled."""
        if multiple:
            tags = []
            while self.unsettled and self.unsettled[0] <= tag:
                t = self.unsettled.popleft()
                if t in self.settled_alone:
                    self.settled_alone.discard(t)
                else:
                    tags.append(t)
            if not tags or tag >= self.next_tag:
                raise ScenarioFailure("multiple confirm up to delivery tag %d settles no "
                                      "unsettled published tag" % tag)
        else:
            if (tag in self.settled_alone or not self.unsettled or tag < self.unsettled[0]
                    or tag >= self.next_tag):
                raise ScenarioFailure("confirm for unknown or settled delivery tag %d" % tag)
            self.settled_alone.add(tag)
            tags = [tag]
        while self.unsettled and self.unsettled[0] in self.settled_alone:
            self.settled_alone.discard(self.unsettled.popleft())
        if ack:
            self.acked += len(tags)
        else:
            self.nacked += tags
        return tags
