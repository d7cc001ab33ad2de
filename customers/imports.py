"""CSV imports: reading untrusted files, the importer registry, and an import's life.

    upload  -> import_job_create: the whole file is read and checked (size, encoding, header,
               ragged rows, row count); a bad file is refused and nothing is stored
    mapping -> import_job_set_mapping: CSV columns to fields; queues the dry run of the file
    preview -> preview_rows: the first rows imported in a transaction that is rolled back
    run     -> import_job_start queues customers.tasks.run_import, which calls import_job_run:
               batches of BATCH_ROWS rows, each in its own transaction with the job's progress

What a row means is up to an Importer registered for the job's kind: customers registers its
own (customers.importers); interactions registers one from its AppConfig.ready(), so this lower
app never imports the higher one. Importers write through their app's services, so every row
is validated and audited like a change made on a page, and a row's ValidationError becomes a
reported error of that row (number, column, message) while the other rows go in.
"""

import csv
import functools
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from crm.csv import csv_restore
from crm.models import AuditEntry, Organization, User
from crm.services import audit_record, audit_snapshot, audit_update
from customers.models import ImportJob

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
BATCH_ROWS = 500
MAX_STORED_ERRORS = 1_000
PREVIEW_ROWS = 20
MAX_HEADER_LENGTH = 100
_DELIMITERS = (",", ";", "\t")
_NUMBER_LIKE = re.compile(r"^[\d\s+\-.,()]+$")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message says why, for the person uploading."""


# --- Rows, fields, results ------------------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    """A field a CSV column can be mapped to; aliases help guess it from the header."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    help_text: str = ""


@dataclass(frozen=True)
class SourceRow:
    """One data row: its number as a spreadsheet shows it (the header is row 1) and its cells,
    keyed by the field their column is mapped to (blank cells are left out)."""

    number: int
    values: dict[str, str]

    def get(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"


@dataclass
class BatchResult:
    """What happened to each row of a batch: created, updated, unchanged or error."""

    outcomes: dict[int, str] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def record(self, rows: Sequence[SourceRow], outcome: str) -> None:
        for row in rows:
            self.outcomes.setdefault(row.number, outcome)

    def fail(self, row: SourceRow | int, field_key: str, message: str) -> None:
        number = row if isinstance(row, int) else row.number
        self.outcomes[number] = ERROR
        self.errors.append(RowError(number, field_key, message))

    def fail_with(self, row: SourceRow, error: ValidationError, rename: dict[str, str]) -> None:
        """A service's ValidationError as errors of this row, fields renamed to field keys."""
        if hasattr(error, "error_dict"):
            for key, messages in error.message_dict.items():
                name = "" if key == "__all__" else rename.get(key, key)
                for message in messages:
                    self.fail(row, name, message)
        else:
            for message in error.messages:
                self.fail(row, "", message)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


class Importer(ABC):
    """What a row of one kind of import means, and how it is written (through services)."""

    kind: str
    label: str
    permission: str

    @abstractmethod
    def fields(self, *, organization: Organization) -> list[ImportField]:
        """The fields columns can be mapped to."""

    def mapping_problems(self, *, mapped: set[str]) -> list[str]:
        """Why a mapping cannot work (e.g. nothing identifies the customer)."""
        return []

    def units(self, rows: list[SourceRow]) -> list[list[SourceRow]]:
        """Rows written together (a purchase's lines); one row each by default."""
        return [[row] for row in rows]

    @abstractmethod
    def import_units(
        self,
        *,
        organization: Organization,
        actor: User | None,
        units: list[list[SourceRow]],
        result: BatchResult,
    ) -> None:
        """Write one batch, recording every row's outcome in `result`.

        Called inside a transaction; each unit should run in its own savepoint so that a row
        the database refuses does not take the batch down with it.
        """


# --- Registry -------------------------------------------------------------------------------

_importers: dict[str, Importer] = {}


def register_importer(kind: str, importer: Importer) -> None:
    """Make `kind` importable. Idempotent (ready() may run twice); another importer for a
    registered kind is an error."""
    if kind not in ImportJob.Kind.values:
        raise ValueError(f"Unknown import kind {kind!r}; add it to ImportJob.Kind.")
    existing = _importers.get(kind)
    if existing is not None and type(existing) is not type(importer):
        raise ValueError(f"An importer for {kind!r} is already registered.")
    _importers[kind] = importer


def get_importer(kind: str) -> Importer | None:
    return _importers.get(kind)


def available_importers() -> list[Importer]:
    return [_importers[kind] for kind in ImportJob.Kind.values if kind in _importers]


# --- Reading a file -------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCsv:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (row number, cells)


def decode_csv(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte order mark), or a clear error."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB. Split it into smaller files."
        )
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if data.startswith(_UTF16_BOMS):
        # Excel's "Unicode text" is UTF-16 with a byte order mark (and tab-separated).
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                "The file starts like UTF-16 text but cannot be read as such; save it as "
                "“CSV UTF-8” and upload it again."
            ) from None
    else:
        text = _decode_utf8(data)
    if "\x00" in text:
        raise ImportFileError("The file contains binary data; upload a CSV text file.")
    return text


def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {error.start + 1} cannot be read). In your "
            "spreadsheet, save it as “CSV UTF-8” and upload it again."
        ) from None


def _check_header(headers: list[str]) -> None:
    if not any(headers):
        raise ImportFileError("The first row must name the columns, e.g. name,email,phone.")
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        if not header:
            raise ImportFileError(f"Column {position} has no name in the first row.")
        if len(header) > MAX_HEADER_LENGTH:
            raise ImportFileError(
                f"Column {position}'s name is longer than {MAX_HEADER_LENGTH} characters; "
                "is the first row a header?"
            )
        if "@" in header or (_NUMBER_LIKE.match(header) and any(ch.isdigit() for ch in header)):
            raise ImportFileError(
                f"The first row must name the columns, but it looks like data (“{header}”). "
                "Add a header row, e.g. name,email,phone."
            )
        key = header.casefold()
        if key in seen:
            raise ImportFileError(
                f"The column “{header}” appears twice in the first row (columns {seen[key]} "
                f"and {position}); give each column its own name."
            )
        seen[key] = position


def _trim_trailing_blanks(cells: list[str], width: int) -> list[str]:
    """Spreadsheets sometimes add empty cells after the last column: drop only those."""
    while len(cells) > width and not cells[-1].strip():
        cells = cells[:-1]
    return cells


def parse_csv(text: str) -> ParsedCsv:
    """Header and rows of a CSV text, or ImportFileError naming what is wrong.

    The delimiter (comma, semicolon or tab) is the one the header line uses most. Blank lines
    are skipped but keep their numbers, so row numbers match the file.
    """
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(_DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    ragged: list[int] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if headers is None:
                if not any(cell.strip() for cell in cells):
                    continue
                headers = _trim_trailing_blanks([cell.strip() for cell in cells], 0)
                _check_header(headers)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            cells = _trim_trailing_blanks(cells, len(headers))
            if len(cells) != len(headers):
                ragged.append(number)
                continue
            rows.append((number, cells))
            if len(rows) > MAX_ROWS:
                raise ImportFileError(
                    f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
                )
    except csv.Error as error:
        raise ImportFileError(
            f"The file is not valid CSV near line {reader.line_num}: {error}."
        ) from None
    if headers is None:
        raise ImportFileError("The file is empty.")
    if ragged:
        shown = ", ".join(str(number) for number in ragged[:10])
        more = f" and {len(ragged) - 10} more" if len(ragged) > 10 else ""
        raise ImportFileError(
            f"Every row needs the {len(headers)} columns of the header; "
            f"{len(ragged)} row(s) do not: row {shown}{more}."
        )
    if not rows:
        raise ImportFileError("The file has a header but no rows to import.")
    return ParsedCsv(headers=headers, rows=rows)


def choice_value(value: str, choices: Sequence[tuple[Any, Any]]) -> str | None:
    """The stored value of a choice a cell names by value or label, any case; None if none."""
    wanted = value.strip().casefold()
    for stored, label in choices:
        if wanted in (str(stored).casefold(), str(label).casefold()):
            return str(stored)
    return None


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def guess_mapping(headers: Sequence[str], fields: Sequence[ImportField]) -> dict[str, str]:
    """Each column's likely field from its header ("E-mail" -> emails); "" when unsure.

    A field is guessed for one column at most (the first that matches).
    """
    names: dict[str, str] = {}
    for item in fields:
        for name in (item.key, item.label, *item.aliases):
            names.setdefault(_normal(name), item.key)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = names.get(_normal(header), "")
        if key in taken:
            key = ""
        if key:
            taken.add(key)
        mapping[header] = key
    return mapping


def mapped_rows(parsed: ParsedCsv, mapping: dict[str, str]) -> list[SourceRow]:
    """The rows as SourceRows: mapped, non-blank cells only, spreadsheet escapes undone."""
    columns = [
        (position, mapping[header])
        for position, header in enumerate(parsed.headers)
        if mapping.get(header)
    ]
    rows = []
    for number, cells in parsed.rows:
        values = {}
        for position, key in columns:
            value = csv_restore(cells[position].strip())
            if value:
                values[key] = value
        rows.append(SourceRow(number=number, values=values))
    return rows


def _job_rows(job: ImportJob) -> tuple[ParsedCsv, list[SourceRow]]:
    parsed = parse_csv(job.csv_text)
    return parsed, mapped_rows(parsed, job.mapping)


def column_of_field(mapping: dict[str, str]) -> dict[str, str]:
    """field key -> the CSV column mapped to it, to report errors in the file's own terms."""
    return {key: header for header, key in mapping.items() if key}


def error_columns(
    *, organization: Organization, importer: Importer, mapping: dict[str, str]
) -> dict[str, str]:
    """What an error on a field is reported under: its CSV column, else the field's label
    (e.g. a required custom field no column fills)."""
    labels = {item.key: item.label for item in importer.fields(organization=organization)}
    return {**labels, **column_of_field(mapping)}


# --- Jobs: upload, mapping, start -------------------------------------------------------------


def _importer_or_error(kind: str) -> Importer:
    importer = get_importer(kind)
    if importer is None:
        raise ValidationError({"kind": [f"“{kind}” is not something that can be imported."]})
    return importer


def import_job_create(
    *, organization: Organization, actor: User | None, kind: str, file_name: str, data: bytes
) -> ImportJob:
    """Store an uploaded file after reading it whole; a bad file is refused, nothing stored."""
    importer = _importer_or_error(kind)
    try:
        text = decode_csv(data)
        parsed = parse_csv(text)
    except ImportFileError as error:
        raise ValidationError({"file": [str(error)]}) from None
    mapping = guess_mapping(parsed.headers, importer.fields(organization=organization))
    with transaction.atomic():
        job = ImportJob.objects.create(
            organization=organization,
            kind=kind,
            file_name=(file_name or "upload.csv")[:255],
            csv_text=text,
            mapping=mapping,
            total_rows=len(parsed.rows),
            created_by=actor,
        )
        audit_record(
            organization=organization,
            actor=actor,
            action=AuditEntry.Action.CREATE,
            instance=job,
            changes={
                "kind": [None, kind],
                "file_name": [None, job.file_name],
                "total_rows": [None, job.total_rows],
            },
        )
    return job


def import_job_set_mapping(
    *, organization: Organization, actor: User | None, job: ImportJob, mapping: dict[str, str]
) -> ImportJob:
    """Map the file's columns to fields ("" ignores a column), then queue the dry run."""
    if job.organization_id != organization.pk:
        raise ValidationError("This import belongs to another organization.")
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.MAPPED):
        raise ValidationError("This import has already run; upload the file again to re-map it.")
    importer = _importer_or_error(job.kind)
    headers = parse_csv(job.csv_text).headers
    labels = {item.key: item.label for item in importer.fields(organization=organization)}
    errors: list[str] = []
    cleaned: dict[str, str] = {}
    used: dict[str, str] = {}
    for header in headers:
        key = str(mapping.get(header) or "")
        if key and key not in labels:
            errors.append(f"“{header}”: choose one of the listed fields.")
            continue
        if key in used:
            errors.append(
                f"“{labels[key]}” is chosen for both “{used[key]}” and “{header}”; "
                "choose it for one column."
            )
            continue
        if key:
            used[key] = header
        cleaned[header] = key
    if not errors:
        if not used:
            errors.append("Choose a field for at least one column.")
        errors.extend(importer.mapping_problems(mapped=set(used)))
    if errors:
        raise ValidationError({"mapping": errors})
    before = audit_snapshot(job, ["mapping", "status"])
    job.mapping = cleaned
    job.status = ImportJob.Status.MAPPED
    job.dry_run = {"state": "pending", "total": job.total_rows}
    with transaction.atomic():
        job.save(update_fields=["mapping", "status", "dry_run"])
        audit_update(organization=organization, actor=actor, instance=job, before=before)
        from customers.tasks import check_import  # tasks call this module: import here

        transaction.on_commit(
            functools.partial(
                check_import.delay, organization_id=organization.pk, import_job_id=job.pk
            )
        )
    return job


def import_job_start(
    *, organization: Organization, actor: User | None, job: ImportJob
) -> ImportJob:
    """Queue the import of a mapped file; starting one that runs or ran does nothing."""
    if job.organization_id != organization.pk:
        raise ValidationError("This import belongs to another organization.")
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(organization=organization, pk=job.pk)
        if locked.status != ImportJob.Status.MAPPED:
            if locked.status == ImportJob.Status.UPLOADED:
                raise ValidationError("Map the columns before running the import.")
            return locked
        before = audit_snapshot(locked, ["status"])
        locked.status = ImportJob.Status.RUNNING
        locked.started_at = timezone.now()
        locked.save(update_fields=["status", "started_at"])
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        from customers.tasks import run_import

        transaction.on_commit(
            functools.partial(
                run_import.delay, organization_id=organization.pk, import_job_id=locked.pk
            )
        )
    return locked


# --- Running -----------------------------------------------------------------------------------


def _batches(units: list[list[SourceRow]]) -> Iterator[tuple[list[list[SourceRow]], int]]:
    """Units grouped into batches of at most BATCH_ROWS rows (a bigger unit goes alone)."""
    batch: list[list[SourceRow]] = []
    size = 0
    for unit in units:
        if batch and size + len(unit) > BATCH_ROWS:
            yield batch, size
            batch, size = [], 0
        batch.append(unit)
        size += len(unit)
    if batch:
        yield batch, size


def _locked_job(organization: Organization, job_id: int) -> ImportJob:
    return ImportJob.objects.select_for_update().get(organization=organization, pk=job_id)


def _add_result(job: ImportJob, result: BatchResult, columns: dict[str, str]) -> None:
    job.created_count += result.count(CREATED)
    job.updated_count += result.count(UPDATED)
    job.unchanged_count += result.count(UNCHANGED)
    job.error_count += result.count(ERROR)
    for error in result.errors:
        if len(job.errors) < MAX_STORED_ERRORS:
            job.errors.append(
                RowError(error.row, columns.get(error.field, error.field), error.message).as_dict()
            )
        else:
            job.errors_omitted += 1


_PROGRESS_FIELDS = [
    "processed_rows",
    "created_count",
    "updated_count",
    "unchanged_count",
    "error_count",
    "errors",
    "errors_omitted",
]


def _fail(organization: Organization, job_id: int, message: str) -> None:
    with transaction.atomic():
        job = _locked_job(organization, job_id)
        job.status = ImportJob.Status.FAILED
        job.failure = message[:500]
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "failure", "finished_at"])


def import_job_run(*, organization: Organization, job_id: int) -> str:
    """Import a started job's rows (the body of customers.tasks.run_import); its status.

    Each batch commits with the job's progress, so a rerun after a crash carries on after the
    last committed batch, and a run of a finished job does nothing.
    """
    job = ImportJob.objects.filter(organization=organization, pk=job_id).first()
    if job is None:
        return "missing"
    if job.status != ImportJob.Status.RUNNING:
        return job.status
    importer = get_importer(job.kind)
    if importer is None:
        _fail(organization, job.pk, "This kind of import is not available.")
        return ImportJob.Status.FAILED
    try:
        _, rows = _job_rows(job)
    except ImportFileError as error:
        _fail(organization, job.pk, str(error))
        return ImportJob.Status.FAILED
    columns = error_columns(organization=organization, importer=importer, mapping=job.mapping)
    position = 0
    for batch, size in _batches(importer.units(rows)):
        if position + size <= job.processed_rows:
            position += size  # committed before a restart
            continue
        try:
            with transaction.atomic():
                locked = _locked_job(organization, job.pk)
                if locked.status != ImportJob.Status.RUNNING:
                    return locked.status
                if locked.processed_rows >= position + size:
                    position += size  # another worker did this batch
                    continue
                result = BatchResult()
                importer.import_units(
                    organization=organization, actor=job.created_by, units=batch, result=result
                )
                _add_result(locked, result, columns)
                locked.processed_rows = position + size
                locked.save(update_fields=_PROGRESS_FIELDS)
        except Exception:
            first_row = batch[0][0].number
            _fail(
                organization,
                job.pk,
                f"The import stopped at row {first_row} on an unexpected error; the rows before "
                "it were imported. Try again, or contact support if it happens again.",
            )
            raise
        position += size
    with transaction.atomic():
        locked = _locked_job(organization, job.pk)
        if locked.status == ImportJob.Status.RUNNING:
            locked.status = ImportJob.Status.COMPLETED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "finished_at"])
    return locked.status


def _dry_run_units(
    *,
    organization: Organization,
    actor: User | None,
    importer: Importer,
    units: list[list[SourceRow]],
) -> BatchResult:
    """Import the units for real and roll it all back: the exact outcome, nothing kept."""
    result = BatchResult()
    try:
        with transaction.atomic():
            importer.import_units(
                organization=organization, actor=actor, units=units, result=result
            )
            transaction.set_rollback(True)
    except DatabaseError:
        # A unit took the transaction down despite its savepoint: report its rows unknown.
        for unit in units:
            for row in unit:
                if row.number not in result.outcomes:
                    result.fail(row, "", "This row could not be checked.")
    return result


def import_job_dry_run(*, organization: Organization, job_id: int) -> str:
    """Check every row of a mapped job without keeping anything (customers.tasks.check_import).

    The totals feed the preview. Stops when the mapping changes or the import starts.
    """
    job = (
        ImportJob.objects.filter(organization=organization, pk=job_id)
        .select_related("created_by")
        .first()
    )
    if job is None:
        return "missing"
    if job.status != ImportJob.Status.MAPPED or job.dry_run.get("state") == "done":
        return "skipped"
    importer = get_importer(job.kind)
    if importer is None:
        return "skipped"
    mapping = dict(job.mapping)
    try:
        _, rows = _job_rows(job)
    except ImportFileError:
        return "skipped"
    totals = {"processed": 0, CREATED: 0, UPDATED: 0, UNCHANGED: 0, "error_rows": 0}
    for batch, size in _batches(importer.units(rows)):
        result = _dry_run_units(
            organization=organization, actor=job.created_by, importer=importer, units=batch
        )
        totals["processed"] += size
        for outcome in (CREATED, UPDATED, UNCHANGED):
            totals[outcome] += result.count(outcome)
        totals["error_rows"] += result.count(ERROR)
        with transaction.atomic():
            locked = _locked_job(organization, job.pk)
            if locked.status != ImportJob.Status.MAPPED or locked.mapping != mapping:
                return "stale"
            locked.dry_run = {"state": "running", "total": job.total_rows, **totals}
            locked.save(update_fields=["dry_run"])
    with transaction.atomic():
        locked = _locked_job(organization, job.pk)
        if locked.status != ImportJob.Status.MAPPED or locked.mapping != mapping:
            return "stale"
        locked.dry_run = {"state": "done", "total": job.total_rows, **totals}
        locked.save(update_fields=["dry_run"])
    return "done"


@dataclass(frozen=True)
class PreviewRow:
    """A row of the preview: its cells (in the mapped columns' order) and its fate."""

    number: int
    cells: list[str]
    outcome: str
    errors: list[RowError]


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[PreviewRow]


def preview_rows(*, organization: Organization, job: ImportJob) -> Preview:
    """The first PREVIEW_ROWS rows, each imported in a rolled-back transaction to show what
    the run would do with it (the whole file is checked by the dry-run task)."""
    importer = get_importer(job.kind)
    parsed, rows = _job_rows(job)
    columns = [header for header in parsed.headers if job.mapping.get(header)]
    positions = [parsed.headers.index(header) for header in columns]
    sample = rows[:PREVIEW_ROWS]
    result = BatchResult()
    if importer is not None and sample:
        result = _dry_run_units(
            organization=organization,
            actor=job.created_by,
            importer=importer,
            units=importer.units(sample),
        )
    by_column = (
        error_columns(organization=organization, importer=importer, mapping=job.mapping)
        if importer is not None
        else {}
    )
    cells_by_number = dict(parsed.rows[:PREVIEW_ROWS])
    preview = []
    for row in sample:
        errors = [
            RowError(error.row, by_column.get(error.field, error.field), error.message)
            for error in result.errors
            if error.row == row.number
        ]
        cells = cells_by_number[row.number]
        preview.append(
            PreviewRow(
                number=row.number,
                cells=[cells[position] for position in positions],
                outcome=result.outcomes.get(row.number, ERROR if errors else UNCHANGED),
                errors=errors,
            )
        )
    return Preview(columns=columns, rows=preview)


def error_report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """The job's row errors as CSV rows (header first), for the report download."""
    yield ["row", "column", "message"]
    for error in job.errors:
        yield [error.get("row"), error.get("field"), error.get("message")]
    if job.errors_omitted:
        yield ["", "", f"{job.errors_omitted} more error(s) were not kept."]
