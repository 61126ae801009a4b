"""Django's database cache, for deployments without Redis, with an increment that counts
every call when requests race: the rate limits (projects.throttle) count in it."""

from django.core.cache.backends import db
from django.db import connections, router, transaction


class DatabaseCache(db.DatabaseCache):
    def incr(self, key, delta=1, version=None):
        # Django's incr reads then writes; two requests at once would both write the same
        # count. The entry's row is locked first (SQLite's transactions take the whole
        # database, settings.py makes them IMMEDIATE), so the second reads the first's.
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        with transaction.atomic(using=alias):
            if connection.features.has_select_for_update:
                quote = connection.ops.quote_name
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT 1 FROM {quote(self._table)} WHERE {quote('cache_key')} = %s "
                        "FOR UPDATE",
                        [self.make_and_validate_key(key, version=version)],
                    )
            return super().incr(key, delta, version)
