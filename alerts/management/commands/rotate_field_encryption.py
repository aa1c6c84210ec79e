"""Re-encrypt every channel URL and webhook secret with the newest FIELD_ENCRYPTION_KEY.

Rotate a key: put a new key in front of FIELD_ENCRYPTION_KEY (old ones after
it, comma-separated), restart, run this, then drop the old key.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from alerts.encryption import rotate
from alerts.models import Channel


class Command(BaseCommand):
    help = "Re-encrypt channel URLs and webhook secrets with the first key of FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        table = connection.ops.quote_name(Channel._meta.db_table)
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            # Raw values: the field would decrypt them, and rotate() needs the stored tokens.
            cursor.execute(f"SELECT id, url, secret FROM {table} ORDER BY id")
            for row_id, url, secret in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {table} SET url = %s, secret = %s WHERE id = %s",
                    [rotate(url or ""), rotate(secret or ""), row_id],
                )
                count += 1
        self.stdout.write(f"Re-encrypted {count} channels with the newest key.")
