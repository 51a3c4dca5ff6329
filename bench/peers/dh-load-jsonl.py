"""Load `tend-bench generate --format peers` JSON Lines into django-helpdesk (its Django ORM).

The same tickets Tend imports, in django-helpdesk's model: one Ticket per record (queue
`general`, title = subject, description = first message, submitter_email = requester,
status/priority mapped below, created/modified = the generated dates) and one FollowUp per message — the
"Ticket Opened" one with the first message, then each reply (agents' internal notes as
non-public follow-ups). bulk_create in batches of 1000 tickets per transaction (Ticket.save()
only truncates the title; titles here are short).

Run inside the project setup-django-helpdesk.sh made (env: DH_JSONL = the file,
DH_LOAD_MAX_S = time bound, default 1800):

    cd /tmp/dh-bench/proj && DJANGO_SETTINGS_MODULE=benchdesk.settings_bench DH_JSONL=/tmp/peers.jsonl \
      /tmp/dh-venv/bin/python manage.py shell -c "exec(open('/path/to/bench/peers/dh-load-jsonl.py').read())"
"""
import datetime
import json
import os
import time

from django.contrib.auth import get_user_model
from django.db import transaction

from helpdesk.models import FollowUp, Queue, Ticket

path = os.environ["DH_JSONL"]
max_s = float(os.environ.get("DH_LOAD_MAX_S", "1800"))
# Tend status -> django-helpdesk (1 open, 2 reopened, 3 resolved, 4 closed, 5 duplicate)
STATUS = {"new": 1, "open": 1, "pending": 1, "on_hold": 1, "solved": 3, "closed": 4}
# Tend priority -> django-helpdesk (1 critical .. 5 very low)
PRIORITY = {"urgent": 1, "high": 2, "normal": 3, "low": 4}

queue = Queue.objects.get(slug="general")
admin = get_user_model().objects.get(username="admin")


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def flush(batch):
    with transaction.atomic():
        created = Ticket.objects.bulk_create([t for t, _ in batch])
        ups = []
        for t, rec in zip(created, (r for _, r in batch)):
            ups.append(FollowUp(ticket=t, title="Ticket Opened", comment=rec["body"],
                                public=True, user=admin, date=ts(rec["created_at"])))
            for m in rec["replies"]:
                ups.append(FollowUp(ticket=t, title="Comment", comment=m["body"],
                                    public=bool(m["public"]), user=admin if m["agent"] else None,
                                    date=ts(m["created_at"])))
        FollowUp.objects.bulk_create(ups)
        # created/modified are auto_now(_add) fields: bulk_create stamps "now"; put the
        # generated dates back (QuerySet.update leaves auto_now alone).
        for t, rec in zip(created, (r for _, r in batch)):
            last = rec["replies"][-1]["created_at"] if rec["replies"] else rec["created_at"]
            Ticket.objects.filter(pk=t.pk).update(created=ts(rec["created_at"]), modified=ts(last))


t0 = time.time()
done = 0
batch = []
with open(path) as f:
    for line in f:
        if time.time() - t0 > max_s:
            break
        rec = json.loads(line)
        t = Ticket(title=rec["subject"][:200], queue=queue, submitter_email=rec["requester"],
                   description=rec["body"], priority=PRIORITY.get(rec["priority"], 3),
                   status=STATUS.get(rec["status"], 1))
        batch.append((t, rec))
        if len(batch) == 1000:
            flush(batch)
            done += len(batch)
            batch = []
            print(f"{done} tickets, {done / (time.time() - t0):.1f}/s", flush=True)
if batch:
    flush(batch)
    done += len(batch)
el = time.time() - t0
print(f"loaded {done} tickets in {el:.1f} s ({done / el:.1f}/s)")
