"""The static files storage: collectstatic's hashed, compressed files, and pages that work without them.

Wiring for STORAGES (as logfilters.py is for LOGGING). With DEBUG off, every
``{% static %}`` URL comes from the manifest collectstatic writes. A process
started from a checkout where collectstatic never ran has no manifest, and
Django's manifest storage then raised on every such URL: /api/docs/ and the
admin answered 500 on every request. Here a file the manifest does not name,
but an installed app ships, keeps its plain name instead, and whitenoise serves
it from the app's static folder (WHITENOISE_USE_FINDERS), with a short cache
lifetime instead of the hashed files' year. A name no app ships still raises,
as before: that is a typo, not a missing collectstatic.
"""

import logging

from django.contrib.staticfiles import finders
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class CollectedOrAppStaticFilesStorage(CompressedManifestStaticFilesStorage):
    warned = False  # once per process: every page names several files

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            if not finders.find(name):
                raise
        if not self.warned:
            type(self).warned = True
            logger.warning(
                "Static files are not collected (%s is not in the manifest): serving them unhashed "
                "from their apps. Run `manage.py collectstatic`.",
                name,
            )
        return name
