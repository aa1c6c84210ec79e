"""Delivery: from a fired alert's Notification rows to a sent email, webhook or Apprise message.

The rooms, in the order a notification passes through them:

- ``outbox``: the rows written in the engine's transaction (one per channel,
  capped per user per hour), their sends enqueued once it commits; the admin's
  retry and the sweeper's re-enqueue;
- ``tasks``: the Celery send tasks (thin), batched over one SMTP session;
- ``send``: one attempt at one notification: claim, send through its channel
  kind, settle; and the channel test message;
- ``claims``: the compare-and-set claim with a lease, settled only by its holder;
- ``messages``: what is sent, rendered once for every kind;
- ``kinds``: one module per channel kind (email, webhook, apprise) behind a
  registry; ``errors``: the one NotificationError.

Arrows point one way: the engine imports ``outbox``, ``outbox`` the send tasks,
the tasks ``send``; nothing here imports the engine.
"""
