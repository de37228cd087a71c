"""Re-encrypt every stored secret with the first key in NOTIFIER_ENCRYPTION_KEY.

Every SecretField of every installed model is read as stored (encrypted), never through the
model, and each row is rewritten in its own small transaction with a compare-and-set update
(`WHERE pk = ... AND column = <the value read>`), so a setup edited meanwhile is never
overwritten and a run interrupted at any point leaves every row readable by one of the keys.
Running it again continues where it stopped. A value no listed key decrypts is reported by
model, id and field (never its value) and left as it is.

Registrations published to DynamoDB (NOTIFIER_STORAGE=dynamodb) are the REST API's output,
which leaves secrets out (registrations/dynamodb.py), so there is nothing to re-encrypt there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Model

from channels.secrets import PREFIX, SecretField, fernet


@dataclass
class Unreadable:
    model: str
    pk: object
    field: str

    def __str__(self) -> str:
        return f"{self.model} id={self.pk} field {self.field}"


@dataclass
class ModelRotation:
    model: str
    rows: int = 0
    rows_rewritten: int = 0
    reencrypted: int = 0
    current: int = 0
    changed_meanwhile: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.model}: {self.rows} rows, {self.reencrypted} secrets re-encrypted, "
            f"{self.current} already encrypted with the first key, "
            f"{len(self.unreadable)} unreadable"
        )
        if self.changed_meanwhile:
            text += f", {self.changed_meanwhile} changed while this ran (saved with the first key)"
        return text


def secret_models() -> Iterator[tuple[type[Model], list[SecretField]]]:
    for model in apps.get_models():
        fields = [f for f in model._meta.local_concrete_fields if isinstance(f, SecretField)]
        if fields:
            yield model, fields


class _SecretTable:
    """One model's table: its primary key and secret columns, quoted for its database."""

    def __init__(self, model: type[Model], fields: list[SecretField]) -> None:
        self.label = model._meta.label
        self.fields = fields
        self.database = router.db_for_write(model) or "default"
        self.connection = connections[self.database]
        quote = self.connection.ops.quote_name
        self.table, self.pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        self.columns = [quote(f.column) for f in fields]

    def rows_after(self, last_pk: object, *, batch_size: int) -> list[tuple]:
        """The next `batch_size` rows (primary key, then the secrets as stored) by key."""
        where = f"WHERE {self.pk} > %s " if last_pk is not None else ""
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {self.pk}, {', '.join(self.columns)} FROM {self.table} {where}"  # noqa: S608
                f"ORDER BY {self.pk} LIMIT {int(batch_size)}",
                [last_pk] if last_pk is not None else [],
            )
            return cursor.fetchall()

    def row_rewrite(self, row_pk: object, changes: list[tuple], result: ModelRotation) -> None:
        """Compare-and-set each (column, old value, new value) of one row, in one transaction."""
        with transaction.atomic(using=self.database), self.connection.cursor() as cursor:
            for column, old_value, new_value in changes:
                cursor.execute(
                    f"UPDATE {self.table} SET {column} = %s "  # noqa: S608
                    f"WHERE {self.pk} = %s AND {column} = %s",
                    [new_value, row_pk, old_value],
                )
                if cursor.rowcount == 1:
                    result.reencrypted += 1
                else:
                    result.changed_meanwhile += 1


def secrets_rotate(
    *,
    batch_size: int = 500,
    limit: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[ModelRotation]:
    """Re-encrypt with the first key every stored secret that another listed key encrypted
    (and encrypt any stored in plain text before encryption existed). `limit` stops after
    that many rows were rewritten; `progress` gets a line after each batch of rows."""
    every_key = fernet()  # ImproperlyConfigured if NOTIFIER_ENCRYPTION_KEY is empty
    first_key = Fernet(_first_key())
    results: list[ModelRotation] = []
    rewritten = 0
    for model, fields in secret_models():
        result = ModelRotation(model=model._meta.label)
        results.append(result)
        rewritten = _model_rotate(
            _SecretTable(model, fields),
            result,
            rewritten=rewritten,
            limit=limit,
            batch_size=batch_size,
            keys=(first_key, every_key),
            progress=progress,
        )
    return results


def _model_rotate(
    table: _SecretTable,
    result: ModelRotation,
    *,
    rewritten: int,
    limit: int | None,
    batch_size: int,
    keys: tuple[Fernet, Any],
    progress: Callable[[str], None],
) -> int:
    """Rotate one model's secrets, batch by batch; the rows rewritten so far, this included."""
    last_pk = None
    while limit is None or rewritten < limit:
        rows = table.rows_after(last_pk, batch_size=batch_size)
        if not rows:
            break
        for row_pk, *values in rows:
            last_pk = row_pk
            result.rows += 1
            changes = _row_changes(table, result, row_pk, values, keys=keys)
            if not changes:
                continue
            table.row_rewrite(row_pk, changes, result)
            rewritten += 1
            result.rows_rewritten += 1
            if limit is not None and rewritten >= limit:
                break
        progress(
            f"{result.model}: {result.rows} rows checked, {result.reencrypted} secrets re-encrypted"
        )
    return rewritten


def _row_changes(
    table: _SecretTable,
    result: ModelRotation,
    row_pk: object,
    values: list[str],
    *,
    keys: tuple[Fernet, Any],
) -> list[tuple[str, str, str]]:
    """(column, old value, new value) for each secret of one row not yet under the first key;
    counts the current and the unreadable ones in `result`."""
    first_key, every_key = keys
    changes = []
    for secret_field, column, value in zip(table.fields, table.columns, values, strict=True):
        if not value:
            continue
        new_value = _reencrypted(value, first_key=first_key, every_key=every_key)
        if new_value is None:
            result.unreadable.append(Unreadable(table.label, row_pk, secret_field.name))
        elif new_value == value:
            result.current += 1
        else:
            changes.append((column, value, new_value))
    return changes


def _first_key() -> str:
    return next(k.strip() for k in settings.NOTIFIER_ENCRYPTION_KEY.split(",") if k.strip())


def _reencrypted(value: str, *, first_key: Fernet, every_key) -> str | None:
    """The value encrypted with the first key: itself if it already is, None if no listed
    key decrypts it."""
    if not value.startswith(PREFIX):  # stored before secrets were encrypted
        return PREFIX + first_key.encrypt(value.encode()).decode()
    token = value[len(PREFIX) :].encode()
    try:
        first_key.decrypt(token)
        return value
    except InvalidToken:
        pass
    try:
        return PREFIX + every_key.rotate(token).decode()
    except InvalidToken:
        return None
