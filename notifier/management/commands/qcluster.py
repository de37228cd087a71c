"""django-q2's `qcluster`, which also tells the node's service loops when to stop.

On SIGTERM or SIGINT django-q2's cluster stops its pusher and waits for each worker to finish
its task, but signals no worker: a service loop would run on until its time was up. This
command arms the node's stop notice before the cluster starts its workers and announces it
when the cluster is told to stop, so the loops stop gracefully (notifier.loop) and the
cluster exits within about one send.
"""

from __future__ import annotations

import os
import signal
import time

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from notifier.loop import node_stop_announce, node_stop_arm


class NotifierCluster(Cluster):
    def sig_handler(self, signum, frame):
        node_stop_announce()
        if signum == signal.SIGTERM and self._sentinel_died(within=1.0):
            # The SIGTERM went to the whole process group (systemd's default): django-q2's
            # sentinel, pusher, monitor and idle workers ended on it at once, and the loops
            # stop by their own handler. Telling the dead sentinel to stop would hang this
            # process for good (its stop event's condition waits for the dead waiter;
            # django-q2 1.11.1, measured), so there is nothing left to do here.
            return
        super().sig_handler(signum, frame)

    def _sentinel_died(self, *, within: float) -> bool:
        deadline = time.monotonic() + within
        while self.sentinel is not None and self.sentinel.is_alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


class Command(DjangoQCommand):
    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018 - as django-q2's: a cluster needs the signing key
        if cluster_name := options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = cluster_name
        node_stop_arm()
        cluster = NotifierCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
            return
        while cluster.sentinel.is_alive():  # where the signal handler can run
            time.sleep(0.5)
