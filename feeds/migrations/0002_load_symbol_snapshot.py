"""Load the bundled exchangeInfo snapshot so a fresh install validates symbols offline."""

from django.db import migrations


def load_snapshot(apps, schema_editor):
    from feeds.catalogue import read_snapshot

    Symbol = apps.get_model("feeds", "Symbol")
    Symbol.objects.bulk_create(
        [
            Symbol(
                symbol=s.symbol,
                status=s.status,
                base_asset=s.base_asset,
                quote_asset=s.quote_asset,
                tick_size=s.tick_size,
                min_price=s.min_price,
                max_price=s.max_price,
            )
            for s in read_snapshot()
        ],
        ignore_conflicts=True,
        batch_size=500,
    )


class Migration(migrations.Migration):
    dependencies = [("feeds", "0001_initial")]

    operations = [migrations.RunPython(load_snapshot, migrations.RunPython.noop)]
