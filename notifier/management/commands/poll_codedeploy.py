from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from notifier import codedeploy, targets
from notifier.dispatch import delivery_send, holder_name
from notifier.loop import service_loop_run
from notifier.poller import POLL_LEASE, deployment_poll, describe_aws_error
from notifier.storage import get_store


class Command(BaseCommand):
    help = (
        "Poll CodeDeploy. With --once: run one cycle, send what it found, and print what it "
        "saw and did. Without: run the service loop (the scheduled task does this): one per "
        "node; SIGTERM or Ctrl-C stops it gracefully."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run a single cycle and exit")
        parser.add_argument(
            "--seconds",
            type=float,
            default=None,
            help="how long the loop runs (default NOTIFIER_LOOP_SECONDS)",
        )
        parser.add_argument(
            "--no-send",
            action="store_true",
            help="with --once: queue notifications but do not send them",
        )

    def handle(self, *args, once=False, seconds=None, no_send=False, **options):
        store = get_store()
        if not once:
            cycles = service_loop_run(seconds=seconds, store=store)
            self.stdout.write(f"ran {cycles} poll cycle(s)")
            return
        holder = holder_name()
        if not store.lease_acquire(POLL_LEASE, holder, seconds=60):
            raise CommandError(
                "another poller holds the poll lease right now; try again in a "
                "few seconds, or stop the service first"
            )
        try:
            counter = codedeploy.CallCounter()
            client = codedeploy.make_client(counter=counter)
            try:
                report = deployment_poll(
                    store=store,
                    client=client,
                    counter=counter,
                    targets_client=codedeploy.make_client(
                        counter=counter, config=targets.TARGETS_CONFIG
                    ),
                )
            except Exception as exc:
                raise CommandError(describe_aws_error(exc)) from exc
            for line in report.lines():
                self.stdout.write(line)
            if no_send:
                return
            for key in report.deliveries:
                state = delivery_send(key, store=store, holder=holder)
                delivery = store.delivery_get(key)
                error = f": {delivery.last_error}" if delivery and delivery.last_error else ""
                self.stdout.write(
                    f"  {key} ({delivery.kind if delivery else '?'}) -> "
                    f"{state or 'claimed elsewhere'}{error}"
                )
        finally:
            store.lease_release(POLL_LEASE, holder)
