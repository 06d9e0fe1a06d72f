"""Excel/CSV import: long and wide sheets, bad rows, both modes, the CLI, the worker."""

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.files import File
from django.core.management import call_command
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook

from careloop.clinical.models import DiagnosticReport, Observation
from careloop.followup.models import Alert
from careloop.interop.importer.jobs import AlreadyImported, do_create_import, do_start_import
from careloop.interop.importer.runner import Importer
from careloop.interop.models import ImportJob, ImportMapping
from careloop.patients.models import Patient, PatientIdentifier
from tests.factories import valid_id

HEADER = [
    "体检号",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "手机号",
    "体检日期",
    "项目代码",
    "项目名称",
    "结果",
    "单位",
    "参考范围",
]
ID_A = valid_id(date(1965, 2, 3), male=True)
ID_B = valid_id(date(1972, 7, 9), male=False)
SHORT = ["姓名", "身份证号", "体检日期", "空腹血糖(mmol/L)"]


def long_rows(bad: bool = True) -> list[list[Any]]:
    when = datetime(2026, 11, 20, 8, 30)
    rows = [
        [
            "TJ001",
            "吴国平",
            "男",
            date(1965, 2, 3),
            ID_A,
            "13812340001",
            when,
            "14771-0",
            "空腹血糖",
            6.4,
            "mmol/L",
            "3.9-6.1",
        ],
        [
            "TJ001",
            "吴国平",
            "男",
            date(1965, 2, 3),
            ID_A,
            "13812340001",
            when,
            "14647-2",
            "总胆固醇",
            5.1,
            "mmol/L",
            "",
        ],
        [
            "TJ001",
            "吴国平",
            "男",
            date(1965, 2, 3),
            ID_A,
            "13812340001",
            when,
            "K",
            "钾",
            6.9,
            "mmol/L",
            "3.5-5.3",
        ],
        [
            "TJ002",
            "郑小红",
            "女",
            "1972/07/09",
            "",
            "13812340002",
            "2026-11-20",
            "",
            "甘油三酯",
            "2.10↑",
            "mmol/L",
            "<1.7",
        ],
        [
            "TJ002",
            "郑小红",
            "女",
            "1972/07/09",
            "",
            "13812340002",
            "2026-11-20",
            "",
            "乙肝表面抗原",
            "阴性",
            "",
            "",
        ],
    ]
    if bad:
        rows += [
            [
                "TJ003",
                "王五",
                "男",
                "",
                ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"),
                "",
                "2026-11-20",
                "14771-0",
                "空腹血糖",
                5.0,
                "mmol/L",
                "",
            ],
            [
                "TJ004",
                "赵六",
                "女",
                "1980-01-01",
                "",
                "",
                "二〇二六年",
                "14771-0",
                "空腹血糖",
                5.0,
                "mmol/L",
                "",
            ],
        ]
    return rows


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def create(
    user: Any,
    content: bytes,
    name: str = "results.xlsx",
    mode: str = "skip",
    source: str = "体检中心",
) -> ImportJob:
    return do_create_import(user, File(io.BytesIO(content), name=name), name, source, mode)


def test_a_long_sheet_imports_good_rows_and_reports_bad_ones(bob: Any) -> None:
    job = create(bob, xlsx(long_rows()))
    assert job.columns["体检号"] == "exam_number" and job.columns["结果"] == "value"
    job = Importer(job).run()
    assert job.status == "done"
    assert (job.total_rows, job.imported_rows, job.error_rows) == (7, 5, 2)
    assert job.patients_created == 2
    wu = Patient.objects.get(name="吴国平")
    assert wu.id_number == ID_A and wu.organisation == bob.organisation
    assert PatientIdentifier.objects.get(patient=wu).value == "TJ001"
    assert DiagnosticReport.objects.filter(patient=wu).count() == 1  # one exam, one report
    glucose = Observation.objects.get(patient=wu, code="14771-0")
    assert glucose.interpretation == "H"
    tg = Observation.objects.get(patient__name="郑小红", code="14927-8")
    assert (tg.value, tg.interpretation) == (2.10, "H")  # "2.10↑" read as a number
    assert Alert.objects.get().patient == wu  # potassium 6.9 against 3.5-5.3 is not critical…
    report = load_workbook(io.BytesIO(job.error_report.read())).active
    lines = list(report.iter_rows(values_only=True))
    assert len(lines) == 3 and lines[1][0] == 7 and lines[2][0] == 8  # Excel's row numbers
    assert "校验位" in lines[1][-1] or "check digit" in lines[1][-1]
    assert "日期" in lines[2][-1] or "date" in lines[2][-1]
    assert ImportMapping.objects.get(source=job.source).columns == job.columns


def test_an_exam_dated_before_1900_is_a_row_error(bob: Any) -> None:
    """Year 1 is year 0 in UTC: storing it raised OverflowError, a traceback, and the
    import stayed "running" for ever."""
    early = f"TJ011,吴国平,男,1965-02-03,{ID_A},13812340001,0001-01-01,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(HEADER) + "\n" + early + "\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 0, 1)
    lines = list(
        load_workbook(io.BytesIO(job.error_report.read())).active.iter_rows(values_only=True)
    )
    assert "1900" in lines[1][-1]


@pytest.mark.parametrize("mode", ["skip", "all"])
def test_an_unexpected_failure_ends_the_import_failed_not_running(
    bob: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """An exception while storing left the job "running" for ever (the worker never runs a
    running job again) and the command printed a traceback."""
    from careloop.interop.importer import runner

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(runner, "do_record_results", broken)
    job = Importer(create(bob, xlsx(long_rows(bad=False)), mode=mode)).run()
    job.refresh_from_db()
    assert job.status == "failed" and "OverflowError" in job.message
    assert job.imported_rows == 0 and not Observation.objects.exists()


def test_ctrl_c_during_a_cli_import_ends_it_failed_and_the_file_can_be_imported_again(
    tmp_path: Path, hospital: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C printed a traceback and left the import "running" for ever, with a part of
    its rows stored."""
    from django.core.management.base import CommandError

    from careloop.interop.importer import runner

    real = runner.do_record_results

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    monkeypatch.setattr(runner, "do_record_results", interrupted)
    with pytest.raises(CommandError, match="interrupted: 0 of 5 rows imported") as error:
        call_command("import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert error.value.returncode == 130
    job = ImportJob.objects.get()
    assert job.status == "failed" and job.finished_at is not None
    assert not Observation.objects.exists()
    monkeypatch.setattr(runner, "do_record_results", real)
    out = io.StringIO()
    call_command("import", str(path), stdout=out, stderr=io.StringIO())  # no --force needed
    assert json.loads(out.getvalue())["imported_rows"] == 5


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (xlsx(long_rows()), "是 Excel（.xlsx）工作簿"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "不是 CSV 文本文件"),
        (",".join(HEADER).encode("utf-16"), "不是 CSV 文本文件"),
    ],
    ids=["workbook", "picture", "utf-16"],
)
def test_a_file_named_csv_that_is_not_text_is_refused_as_such(
    bob: Any, content: bytes, said: str
) -> None:
    """A picture was read as GB18030 (any bytes are) and refused for want of an ID column,
    its "headers" shown as mojibake; a workbook was said to be in an unknown character set."""
    from careloop.interop.importer.reader import ReadError

    with pytest.raises(ReadError, match=said):
        create(bob, content, name="results.csv")
    assert not ImportJob.objects.exists()


def test_a_cli_import_stopped_by_sigterm_ends_failed_not_running(
    tmp_path: Path, hospital: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill`, `timeout` or a service manager stopping the import left it "running"."""
    import os
    import signal

    from django.core.management.base import CommandError

    from careloop.interop.importer import runner

    def stopped(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)

    def unhandled(signum: int, frame: object) -> None:  # not the test run's end
        raise RuntimeError("SIGTERM not handled by the import")

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    monkeypatch.setattr(runner, "do_record_results", stopped)
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        with pytest.raises(CommandError, match="interrupted") as error:
            call_command("import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
        assert signal.getsignal(signal.SIGTERM) is unhandled  # given back
    finally:
        signal.signal(signal.SIGTERM, before)
    assert error.value.returncode == 130
    assert ImportJob.objects.get().status == "failed"


def test_a_cell_with_a_nul_character_is_a_row_error_shown_in_the_report(bob: Any) -> None:
    """A NUL in a new patient's name was stored on SQLite (PostgreSQL fails the chunk); in
    the error report it made openpyxl refuse the workbook."""
    row = f"TJ012,新\x00人,男,1965-02-03,{ID_A},13812340001,2026-11-20,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(HEADER) + "\n" + row + "\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 0, 1)
    assert not Patient.objects.exists()
    lines = list(
        load_workbook(io.BytesIO(job.error_report.read())).active.iter_rows(values_only=True)
    )
    assert lines[1][2] == "新\N{REPLACEMENT CHARACTER}人" and "NUL" in lines[1][-1]


def test_a_short_or_long_csv_row_keeps_its_problem_under_the_problem_column(bob: Any) -> None:
    """A CSV row with fewer cells than the header put "what is wrong" under a data column
    (here 性别), so the report's last column was empty for it."""
    undated = f"TJ009,吴国平,男,1965-02-03,{ID_A},13812340001,昨天,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(HEADER) + "\nTJ010,吴国平\n" + undated + ",extra\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert job.error_rows == 2
    lines = list(
        load_workbook(io.BytesIO(job.error_report.read())).active.iter_rows(values_only=True)
    )
    problem_column = len(HEADER) + 1  # after the row number and the file's own columns
    assert lines[0][problem_column] in ("错误原因", "What is wrong")
    short, long = lines[1], lines[2]
    assert short[:3] == (2, "TJ010", "吴国平") and short[3] is None
    assert short[problem_column]  # the problem, where the header says it is
    assert long[problem_column] and long[problem_column + 1] == "extra"  # nothing dropped


def test_all_or_nothing_imports_nothing_when_a_row_is_wrong(bob: Any, client: Any) -> None:
    job = Importer(create(bob, xlsx(long_rows()), mode="all")).run()
    assert job.status == "failed" and job.error_rows == 2
    assert not Patient.objects.exists() and not Observation.objects.exists()
    assert job.error_report
    client.force_login(bob)  # its page says "see the error report": it offers it
    page = client.get(f"/interop/imports/{job.pk}/").content.decode()
    assert "错误报告" in page and f'href="/interop/imports/{job.pk}/errors/"' in page
    again = Importer(job).run()  # started again: counted afresh, not "4 of 2 rows read"
    assert (again.processed_rows, again.error_rows) == (job.total_rows, 2)
    good = Importer(create(bob, xlsx(long_rows(bad=False)), name="good.xlsx", mode="all")).run()
    assert good.status == "done" and good.imported_rows == 5 and Patient.objects.count() == 2


def test_a_wide_gb18030_csv_and_known_patients(bob: Any, patient_factory: Any) -> None:
    known = patient_factory(organisation=bob.organisation, name="老病人")
    PatientIdentifier.objects.create(
        patient=known, kind="exam", system=bob.organisation.code, value="TJ900"
    )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(
        ["体检号", "姓名", "体检日期", "空腹血糖(mmol/L)", "总胆固醇(mmol/L)", "收缩压", "备注"]
    )
    writer.writerow(["TJ900", "老病人", "2026-11-01", "7.2", "6.5", "150", "无"])
    writer.writerow(["tj900", "老病人", "2026-11-02", "", "4.9", "", ""])
    job = create(bob, text.getvalue().encode("gb18030"), name="wide.csv")
    assert job.columns["空腹血糖(mmol/L)"] == "item:14771-0"
    assert job.columns["收缩压"] == "item:8480-6" and job.columns["备注"] == "ignore"
    job = Importer(job).run()
    assert (job.status, job.imported_rows, job.patients_created) == ("done", 2, 0)
    by_code = {
        (o.code, timezone.localtime(o.effective_at).day): o
        for o in Observation.objects.filter(patient=known)
    }
    assert by_code[("14771-0", 1)].interpretation == "H"
    assert by_code[("8480-6", 1)].interpretation == "H"
    assert by_code[("14647-2", 2)].interpretation == "N"
    assert len(by_code) == 4


def test_a_value_sent_without_its_unit_is_shown_in_the_unit_it_was_read_in(
    bob: Any, patient_factory: Any
) -> None:
    """A sheet whose headers name no unit (收缩压, 空腹血糖): the catalogue's unit is assumed
    when the value is graded, and shown with it ("150 mmHg", not a bare "150")."""
    known = patient_factory(organisation=bob.organisation, name="老病人")
    PatientIdentifier.objects.create(
        patient=known, kind="exam", system=bob.organisation.code, value="TJ902"
    )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["体检号", "姓名", "体检日期", "收缩压", "空腹血糖"])
    writer.writerow(["TJ902", "老病人", "2026-11-01", "150", "7.2"])
    job = Importer(create(bob, text.getvalue().encode(), name="bare.csv")).run()
    assert (job.status, job.imported_rows) == ("done", 1)
    rows = {o.code: o for o in Observation.objects.filter(patient=known)}
    assert rows["8480-6"].display_value == "150 mmHg"
    assert rows["14771-0"].display_value == "7.2 mmol/L"


def test_a_blood_pressure_column_is_read_as_its_two_pressures(
    bob: Any, patient_factory: Any
) -> None:
    known = patient_factory(organisation=bob.organisation, name="老病人")
    PatientIdentifier.objects.create(
        patient=known, kind="exam", system=bob.organisation.code, value="TJ901"
    )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["体检号", "姓名", "体检日期", "血压(mmHg)"])
    writer.writerow(["TJ901", "老病人", "2026-11-01", "146/92"])
    job = create(bob, text.getvalue().encode(), name="bp.csv")
    assert job.columns["血压(mmHg)"] == "item:85354-9"
    job = Importer(job).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 1, 0)
    rows = {o.code: o for o in Observation.objects.filter(patient=known)}
    assert rows["85354-9"].value_text == "146/92"
    assert (rows["8480-6"].value, rows["8462-4"].value) == (146, 92)
    assert rows["8480-6"].interpretation == "H" and rows["8462-4"].interpretation == "H"


def test_a_blood_pressure_received_as_its_two_pressures_is_not_stored_again(
    bob: Any, patient_factory: Any
) -> None:
    """The exam's blood pressure received first as its two pressures (a FHIR panel's
    components, HL7 8480-6 and 8462-4), then in the exam file as 血压 146/92: the reading is
    stored already, not a second time (the rules would count it twice)."""
    known = patient_factory(organisation=bob.organisation, name="老病人")
    PatientIdentifier.objects.create(
        patient=known, kind="exam", system=bob.organisation.code, value="TJ901"
    )
    at = timezone.make_aware(datetime(2026, 11, 1))
    for code, value in (("8480-6", 146.0), ("8462-4", 92.0)):
        Observation.objects.create(
            patient=known, code=code, value=value, unit="mmHg", effective_at=at, source="hl7"
        )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["体检号", "姓名", "体检日期", "血压(mmHg)"])
    writer.writerow(["TJ901", "老病人", "2026-11-01", "146/92"])
    job = Importer(create(bob, text.getvalue().encode(), name="bp.csv")).run()
    assert (job.status, job.already_stored_rows, job.error_rows) == ("done", 1, 0)
    assert sorted(Observation.objects.values_list("code", flat=True)) == ["8462-4", "8480-6"]


def test_columns_that_cannot_work_are_refused(bob: Any) -> None:
    content = xlsx([["x", 1]], header=["备注", "数值"])
    job = Importer(create(bob, content)).run()
    assert (job.status == "failed" and "ID" in job.message) or "身份证" in job.message


def test_the_same_file_is_not_imported_twice(bob: Any) -> None:
    content = xlsx(long_rows(bad=False))
    first = Importer(create(bob, content)).run()
    with pytest.raises(AlreadyImported) as refused:
        create(bob, content)
    # The time of the first import as the pages show times (local, not UTC).
    assert f"{timezone.localtime(first.created_at):%Y-%m-%d %H:%M}" in str(refused.value)
    assert f"{first.created_at.astimezone(UTC):%H:%M}" not in str(refused.value)


def test_the_cli_refuses_to_import_without_any_organisation(tmp_path: Path, db: None) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows()))
    with pytest.raises(CommandError, match="尚未建立任何机构") as error:  # zh-hans by default
        call_command("import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert error.value.returncode == 2


def test_the_cli_imports_and_exits_by_outcome(tmp_path: Path, hospital: Any) -> None:
    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows()))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("import", str(path), "--source", "LIS导出", stdout=out, stderr=io.StringIO())
    assert exit_status.value.code == 1  # two rows not imported
    assert '"imported_rows": 5' in out.getvalue() and '"error_rows": 2' in out.getvalue()
    clean = tmp_path / "clean.xlsx"
    clean.write_bytes(xlsx(long_rows(bad=False)[:2]))
    again = io.StringIO()
    call_command(
        "import",
        str(clean),
        "--source",
        "LIS导出",
        "--force",
        stdout=again,
        stderr=io.StringIO(),
    )
    summary = json.loads(again.getvalue())
    assert (summary["imported_rows"], summary["already_stored_rows"]) == (0, 2)
    assert Observation.objects.filter(code="14647-2").count() == 1  # stored once


def test_the_cli_prints_its_summary_alone_on_stdout(
    tmp_path: Path, hospital: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """The progress bar was drawn on stdout, and ended there with a blank line before the
    JSON summary."""
    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    call_command("import", str(path))
    out, _ = capfd.readouterr()
    assert out.startswith("{") and json.loads(out)["imported_rows"] == 5


@pytest.mark.parametrize("show_columns", [False, True])
def test_a_file_without_a_header_row_is_named_without_printing_its_first_patient(
    tmp_path: Path, hospital: Any, show_columns: bool
) -> None:
    """The first row was listed as the file's "columns" on the terminal: the first patient's
    ID number, name and phone number in full."""
    from django.core.management.base import CommandError

    path = tmp_path / "no-header.csv"
    path.write_text(f"{ID_A},吴国平,13812340001,2026-11-03,5.5\n", encoding="utf-8")
    err = io.StringIO()
    options = ["--show-columns"] if show_columns else []
    with pytest.raises(CommandError, match="not column headers: add a header row") as error:
        call_command("import", str(path), *options, stdout=io.StringIO(), stderr=err)
    assert error.value.returncode == 2
    assert ID_A not in err.getvalue() and "13812340001" not in err.getvalue()
    assert "吴国平" not in err.getvalue() and "吴国平" not in str(error.value)
    assert not Observation.objects.exists()
    loinc = tmp_path / "wide.csv"  # a LOINC code as a header is a header
    loinc.write_text("身份证号,体检日期,14771-0\n", encoding="utf-8")
    call_command("import", str(loinc), "--show-columns", stderr=err)
    assert "14771-0" in err.getvalue()


def test_results_stored_before_are_not_stored_again_from_another_file(bob: Any) -> None:
    Importer(create(bob, xlsx(long_rows(bad=False)))).run()
    stored = Observation.objects.count()
    rows = long_rows(bad=False)
    changed = list(rows[0])
    changed[9] = 7.1  # the same glucose of the same exam, another value: a new result
    later = list(rows[0])
    later[6] = datetime(2026, 11, 27, 8, 30)  # the same item at a later exam
    job = Importer(create(bob, xlsx([*rows, changed, later]), name="export-2.xlsx")).run()
    assert job.status == "done"
    assert (job.already_stored_rows, job.imported_rows, job.error_rows) == (len(rows), 2, 0)
    assert Observation.objects.count() == stored + 2
    glucose = Observation.objects.filter(code="14771-0", patient__name="吴国平")
    assert sorted(o.value for o in glucose) == [6.4, 6.4, 7.1]


def test_an_import_started_on_the_page_runs_on_the_worker(bob: Any, transactional_db: None) -> None:
    job = create(bob, xlsx(long_rows(bad=False)))
    do_start_import(bob, job, job.columns)
    assert ImportJob.objects.get(pk=job.pk).status == "queued"
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == "done" and job.imported_rows == 5


def test_an_import_runs_in_the_language_of_the_page_that_started_it(
    bob: Any, transactional_db: None
) -> None:
    job = create(bob, xlsx(long_rows()[:-1]), mode="all")  # one wrong row
    with translation.override("en"):
        do_start_import(bob, job, job.columns)
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.message == "1 row is wrong, so nothing was imported: see the error report."
    sheet = load_workbook(job.error_report.open("rb")).active
    assert sheet.title == "Rows not imported"


@pytest.mark.parametrize("write_only", [False, True])
def test_rows_are_counted_with_and_without_a_dimension_element(write_only: bool) -> None:
    # Excel writes <dimension ref="A1:L8"/>; many export tools (and openpyxl's write-only
    # mode) do not, and the count then comes from the sheet's row elements.
    from careloop.interop.importer.reader import Sheet

    book = Workbook(write_only=write_only)
    sheet = book.create_sheet("结果") if write_only else book.active
    sheet.append(HEADER)
    for row in long_rows(bad=False):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    read = Sheet(buffer, "results.xlsx")
    assert (b"<dimension" in _sheet_xml(buffer)) is not write_only
    assert read.count() == len(long_rows(bad=False))
    assert len(list(read.rows())) == 1 + len(long_rows(bad=False))


def _sheet_xml(buffer: io.BytesIO) -> bytes:
    import zipfile

    with zipfile.ZipFile(buffer) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_a_source_name_another_organisation_uses_is_this_organisations_own(
    tmp_path: Path, hospital: Any, community: Any
) -> None:
    from careloop.accounts.roles import Role
    from tests.factories import UserFactory

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    lead = UserFactory(username="hlead", organisation=hospital, role=Role.COORDINATOR)
    call_command("import", str(path), "--user", "hlead", stdout=io.StringIO(), stderr=io.StringIO())
    assert lead.organisation == hospital and Patient.objects.filter(organisation=hospital).exists()
    UserFactory(username="clead", organisation=community, role=Role.COORDINATOR)
    at_the_hospital = Patient.objects.filter(organisation=hospital).count()
    with pytest.raises(SystemExit):  # the same people: enrolled at the hospital already
        call_command(
            "import",
            str(path),
            "--user",
            "clead",
            "--force",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    # The same source name ("Excel"): the community's own, where its new patients go.
    hospitals, communitys = ImportJob.objects.order_by("pk")
    assert hospitals.source.organisation == hospital
    assert communitys.source.organisation == community and communitys.source.name == "Excel"
    assert Patient.objects.filter(organisation=hospital).count() == at_the_hospital


def test_the_cli_checks_who_imports_and_the_columns_given(tmp_path: Path, hospital: Any) -> None:
    from django.core.management.base import CommandError

    from tests.factories import UserFactory

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    UserFactory(username="norole", organisation=hospital)
    with pytest.raises(CommandError, match="may not import") as refused:
        call_command("import", str(path), "--user", "norole", stderr=io.StringIO())
    assert refused.value.returncode == 2
    for columns, says in (("[1, 2]", "JSON object"), ('{"单位": "bogus"}', "unknown field")):
        with pytest.raises(CommandError, match=says) as wrong:
            call_command("import", str(path), "--columns", columns, "--force", stderr=io.StringIO())
        assert wrong.value.returncode == 2
    assert not Observation.objects.exists()
    # A mapping that cannot work: the run is recorded as failed, with why (as on the page).
    no_date = '{"体检日期": ""}'
    with pytest.raises(CommandError, match=r"检查日期|exam date"):
        call_command("import", str(path), "--columns", no_date, "--force", stderr=io.StringIO())
    refused_job = ImportJob.objects.latest("pk")
    assert refused_job.status == "failed" and refused_job.message == "需要一列检查日期。"
    # --show-columns only looks: it leaves no import behind.
    jobs = ImportJob.objects.count()
    call_command("import", str(path), "--show-columns", "--force", stderr=io.StringIO())
    assert ImportJob.objects.count() == jobs


def test_a_word_for_a_measured_item_and_a_wrong_id_are_each_said_once(bob: Any) -> None:
    from django.utils import translation

    good = long_rows(bad=False)
    letters = [*good[0][:9], "abc", "mmol/L", ""]  # fasting glucose: "abc"
    wrong_id = [
        "",
        "钱七",
        "男",
        "",
        ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"),
        "",
        *good[0][6:],
    ]
    negative = good[-1]  # HBsAg "阴性": a word is its result
    with translation.override("zh-hans"):
        job = Importer(create(bob, xlsx([letters, wrong_id, negative]))).run()
        report = load_workbook(io.BytesIO(job.error_report.read())).active
        lines = list(report.iter_rows(values_only=True))
    assert (job.imported_rows, job.error_rows) == (1, 2)
    assert "结果不是数字" in lines[1][-1]
    assert "校验位" in lines[2][-1] and "无法确定是谁" not in lines[2][-1]
    assert "身份证号" in lines[2][-1]  # the column named in Chinese, not "Resident ID number"


def test_an_empty_file_is_said_to_be_empty_and_leaves_nothing(bob: Any) -> None:
    from careloop.interop.importer.reader import ReadError

    blank = io.BytesIO()
    Workbook().save(blank)
    for name, content in (("empty.csv", b""), ("empty.xlsx", blank.getvalue())):
        with pytest.raises(ReadError, match=r"空|empty"):
            do_create_import(bob, File(io.BytesIO(content)), name, "Excel", "skip")
    assert not ImportJob.objects.exists()


def test_a_row_repeated_in_a_file_is_stored_once_and_reported(bob: Any) -> None:
    from django.utils import translation

    first = long_rows(bad=False)[0]
    with translation.override("zh-hans"):
        job = Importer(create(bob, xlsx([first, first]))).run()
        report = load_workbook(io.BytesIO(job.error_report.read())).active
        lines = list(report.iter_rows(values_only=True))
    assert (job.imported_rows, job.error_rows) == (1, 1)
    assert Observation.objects.count() == 1
    assert lines[1][0] == 3 and "与第 2 行相同" in lines[1][-1]


def test_two_columns_with_the_same_header_are_mapped_apart(bob: Any) -> None:
    header = [*HEADER, "体检日期"]  # e.g. registered, then examined
    row = [*long_rows(bad=False)[0], datetime(2026, 11, 18, 9, 0)]
    job = create(bob, xlsx([row], header=header), name="two-dates.xlsx")
    assert list(job.columns)[-1] == "体检日期 #2"
    assert (job.columns["体检日期"], job.columns["体检日期 #2"]) == ("effective_at", "ignore")
    # The second date is the exam's: mapped so, the first not imported.
    job.columns.update({"体检日期": "ignore", "体检日期 #2": "effective_at"})
    job.save(update_fields=["columns"])
    job = Importer(job).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 1, 0)
    glucose = Observation.objects.get()
    assert timezone.localtime(glucose.effective_at).day == 18
    # Remembered for the source: the next file of the same layout is mapped the same way.
    row[9] = 7.5  # another result: another file
    later = create(bob, xlsx([row], header=header), name="two-dates-2.xlsx")
    assert (later.columns["体检日期"], later.columns["体检日期 #2"]) == ("ignore", "effective_at")


def test_an_import_run_from_the_cli_is_listed_for_the_sources_organisation(
    tmp_path: Path, bob: Any, client: Any
) -> None:
    path = tmp_path / "nightly-export.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    call_command(
        "import", str(path), "--source", "LIS导出", stdout=io.StringIO(), stderr=io.StringIO()
    )
    job = ImportJob.objects.get()
    assert job.created_by is None and job.source.organisation == bob.organisation
    client.force_login(bob)
    listing = client.get("/interop/imports/")
    assert "nightly-export.xlsx" in listing.content.decode()
    assert client.get(f"/interop/imports/{job.pk}/").status_code == 200


def test_numbered_headers_never_take_a_name_the_sheet_already_has() -> None:
    from careloop.interop.importer.columns import distinct

    assert distinct(["日期", "日期", "日期 #2", "", ""]) == ["日期", "日期 #3", "日期 #2", "", ""]


def test_a_cli_import_started_again_on_the_page_runs_as_the_one_who_started_it(
    tmp_path: Path, bob: Any
) -> None:
    from django.core.management.base import CommandError

    from careloop.interop.importer.jobs import do_start_import

    path = tmp_path / "results.xlsx"
    path.write_bytes(xlsx(long_rows(bad=False)))
    with pytest.raises(CommandError):
        call_command("import", str(path), "--columns", '{"体检日期": ""}', stderr=io.StringIO())
    job = ImportJob.objects.get()
    assert job.created_by is None and job.status == "failed"
    columns = dict(job.columns, 体检日期="effective_at")
    do_start_import(bob, job, columns)
    job.refresh_from_db()
    assert job.created_by == bob  # scoped to what bob may reach when the worker runs it
    # --show-columns with columns that are not JSON: refused before anything is uploaded.
    with pytest.raises(CommandError):
        call_command("import", str(path), "--show-columns", "--columns", "[", stderr=io.StringIO())
    assert ImportJob.objects.count() == 1


def test_the_import_pages_say_how_many_rows_were_stored_before(bob: Any, client: Any) -> None:
    Importer(create(bob, xlsx(long_rows(bad=False)))).run()
    shuffled = list(reversed(long_rows(bad=False)))  # the same rows in another file
    again = Importer(create(bob, xlsx(shuffled), name="again.xlsx")).run()
    assert again.already_stored_rows == 5
    client.force_login(bob)
    detail = client.get(f"/interop/imports/{again.pk}/progress/").content.decode()
    assert "5 行的结果此前已入库" in detail
    assert "5 行此前已入库" in client.get("/interop/imports/").content.decode()


def test_the_preview_shows_a_patient_of_another_organisation(
    bob: Any, patient_factory: Any, community: Any
) -> None:
    """The preview finds the rows' patients as the import will: one of another organisation
    is an error before the import starts, not only in its report."""
    from careloop.interop.importer.jobs import preview

    rows = long_rows(bad=False)
    theirs = patient_factory(organisation=community, id_number=rows[0][4])
    job = create(bob, xlsx(rows))
    _mapping, parsed = preview(job)
    errors = [" ".join(message for _column, message in row.errors) for row in parsed]
    mine = [row for row in parsed if row.patient.get("id_number") == theirs.id_number]
    assert mine and all(row.errors for row in mine)
    assert any("another organisation" in text or "其他机构" in text for text in errors)
    assert not [row for row in parsed if row not in mine and row.errors]
    assert Patient.objects.count() == 1  # nobody enrolled by looking


def test_an_uploaded_file_is_labelled_by_its_own_type_not_the_default_source(
    bob: Any, client: Any
) -> None:
    import re

    client.force_login(bob)
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, long_rows(bad=False)[0]])
    upload = io.BytesIO(text.getvalue().encode("utf-8"))
    upload.name = "imp.csv"
    page = client.post(
        "/interop/imports/", {"file": upload, "source": "Excel", "mode": "skip"}, follow=True
    )
    heading = re.search(r'data-testid="import-kind">([^<]*)<', page.content.decode())
    assert heading is not None and heading[1] == "· CSV · 来源：Excel", heading
    sheet = create(bob, xlsx(long_rows(bad=False)), name="imp.xlsx")
    other = client.get(f"/interop/imports/{sheet.pk}/").content.decode()
    assert 'data-testid="import-kind">· Excel · 来源：体检中心<' in other


def test_every_import_stays_reachable_from_the_list_page(bob: Any, client: Any) -> None:
    for n in range(23):  # more than a page
        rows = [[f"TJ9{n:02}", *row[1:]] for row in long_rows(bad=False)]  # each file its own
        create(bob, xlsx(rows), name=f"体检{n:02}.xlsx")
    client.force_login(bob)
    first = client.get("/interop/imports/").content.decode()
    assert "体检22.xlsx" in first and "体检00.xlsx" not in first  # newest first
    assert "?page=2" in first
    second = client.get("/interop/imports/", {"page": 2}).content.decode()
    assert "体检00.xlsx" in second and "体检22.xlsx" not in second


def test_a_header_with_a_control_character_does_not_stop_the_error_report(bob: Any) -> None:
    """A control character in the file's own header (a CSV's "备注\\x01") made openpyxl refuse
    the error report's header row: the import ended failed, "IllegalCharacterError", though
    only one row was wrong."""
    header = [*HEADER[:-1], HEADER[-1] + "\x01"]
    undated = f"TJ009,吴国平,男,1965-02-03,{ID_A},13812340001,昨天,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(header) + "\n" + undated + "\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.error_rows) == ("done", 1), job.message
    lines = list(
        load_workbook(io.BytesIO(job.error_report.read())).active.iter_rows(values_only=True)
    )
    assert lines[0][len(HEADER)] == HEADER[-1] + "\N{REPLACEMENT CHARACTER}"


def test_an_import_stopped_by_an_unexpected_error_keeps_the_report_of_its_committed_chunks(
    bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skipping bad rows, a chunk committed with a wrong row, then the next one failed: the
    job ended failed with 0 rows wrong and no error report, so the wrong row, not imported,
    was named nowhere."""
    from careloop.interop.importer import runner

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(runner, "CHUNK", 1)
    monkeypatch.setattr(runner, "do_record_results", broken)
    undated = f"TJ009,吴国平,男,1965-02-03,{ID_A},13812340001,昨天,14771-0,空腹血糖,6.4,mmol/L,"
    good = f"TJ009,吴国平,男,1965-02-03,{ID_A},13812340001,2026-11-20,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(HEADER) + "\n" + undated + "\n" + good + "\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    job.refresh_from_db()
    assert job.status == "failed" and "OverflowError" in job.message
    assert job.error_rows == 1 and job.error_report
    lines = list(
        load_workbook(io.BytesIO(job.error_report.read())).active.iter_rows(values_only=True)
    )
    assert [line[0] for line in lines[1:]] == [2]


@pytest.mark.parametrize("born", ["2099-01-01", "1899-12-31", "0001-01-01"])
def test_a_new_patients_date_of_birth_in_the_future_or_before_1900_is_a_row_error(
    bob: Any, born: str
) -> None:
    """Enrolled from a row without an ID number, a patient born in 2099 (or in year 1) was
    registered: the forms, the API, FHIR and HL7 refuse that date of birth."""
    row = f"TJ013,新病人,男,{born},,13812340001,2026-11-20,14771-0,空腹血糖,6.4,mmol/L,"
    content = ",".join(HEADER) + "\n" + row + "\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 0, 1)
    assert not Patient.objects.exists()


def test_the_uploaded_sheet_and_its_error_report_are_readable_by_careloop_alone(
    bob: Any, tmp_path: Path, settings: Any
) -> None:
    """Given a media directory, when a sheet with full ID and phone numbers is imported with
    bad rows, then the stored upload, its error report and their folders are not readable
    by other users of the machine (whatever the process's umask)."""
    import os
    import stat

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "location": str(tmp_path)},
        },
    }
    job = Importer(create(bob, xlsx(long_rows()))).run()
    assert job.error_report

    for name in (job.file.name, job.error_report.name):
        path = Path(job.file.storage.path(name))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
        for folder in path.relative_to(tmp_path).parents[:-1]:
            assert stat.S_IMODE(os.stat(tmp_path / folder).st_mode) == 0o700, folder


def test_an_import_started_twice_at_once_is_queued_once(bob: Any) -> None:
    """Given an uploaded sheet, when "start" is clicked twice (both requests read the job
    before either started it), then it is queued to run once and the second is told."""
    from django_tasks_db.models import DBTaskResult

    from careloop.interop.importer.jobs import AlreadyStarted

    job = create(bob, xlsx(long_rows(bad=False)))
    first, second = ImportJob.objects.get(pk=job.pk), ImportJob.objects.get(pk=job.pk)
    do_start_import(bob, first, first.columns)
    told = ""
    try:
        do_start_import(bob, second, second.columns)
    except AlreadyStarted as started:
        told = str(started)
    assert DBTaskResult.objects.filter(task_path__endswith="run_import").count() == 1
    assert "已开始" in told and "等待" in told


def test_headers_named_as_the_column_page_names_its_fields_are_recognised() -> None:
    # An English sheet headed with the page's own words ("Exam date" …) was left unmapped,
    # then refused: "A column with the exam date is needed."
    from careloop.interop.importer.columns import FIELD_LABELS, IGNORE, guess

    fields = [f for f in FIELD_LABELS if f != IGNORE]
    with translation.override("en"):
        headers = [str(FIELD_LABELS[f]) for f in fields]
    assert guess(headers, {}) == dict(zip(headers, fields, strict=True))


def test_a_sheet_under_a_merged_title_row_finds_its_header_and_numbers_rows_as_excel(
    bob: Any,
) -> None:
    """Exam centres export a title merged across the columns and an export date above the
    header: the first row was taken as the header, and the file was refused for having no
    column of ID numbers."""
    book = Workbook()
    sheet = book.active
    sheet.append(["XX市健康体检中心 2026年3月体检结果汇总"])
    sheet.merge_cells("A1:E1")
    sheet.append([])
    sheet.append(["导出时间：2026-03-10 09:00"])
    sheet.append(["体检号", "姓名", "身份证号", "体检日期", "空腹血糖(mmol/L)"])
    sheet.append(["TJ001", "吴国平", ID_A, "2026/3/5", 5.2])
    sheet.append(["TJ002", "郑小红", ID_B, "2026年3月5日", "葡萄糖"])
    buffer = io.BytesIO()
    book.save(buffer)
    job = create(bob, buffer.getvalue())
    assert job.columns["身份证号"] == "id_number" and job.columns["体检日期"] == "effective_at"
    job = Importer(job).run()
    assert (job.status, job.total_rows, job.imported_rows, job.error_rows) == ("done", 2, 1, 1)
    assert Observation.objects.get(code="14771-0").value == 5.2
    lines = list(load_workbook(io.BytesIO(job.error_report.read())).active.values)
    assert lines[0][1:6] == ("体检号", "姓名", "身份证号", "体检日期", "空腹血糖(mmol/L)")
    assert lines[1][0] == 6  # the row as Excel numbers it


@pytest.mark.parametrize(
    ("written", "flag"),
    [("↑6.8", "H"), ("6.8 H", "H"), ("6.8↑", "H"), ("↓3.5", "L"), ("3.5L", "L")],
)
def test_a_result_with_its_flag_before_or_after_the_number_is_read_as_the_number(
    bob: Any, written: str, flag: str
) -> None:
    """Exam-centre exports write the flag with the value: "↑6.8" and "6.8 H" were refused
    as "not a number"."""
    content = f"姓名,身份证号,体检日期,空腹血糖(mmol/L)\n吴国平,{ID_A},2026-03-05,{written}\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 1, 0)
    glucose = Observation.objects.get(code="14771-0")
    assert (glucose.value, glucose.interpretation) == (float(written.strip("↑↓ HL")), flag)


def test_a_utf8_csv_longer_than_the_head_read_to_tell_its_character_set_is_read(
    bob: Any,
) -> None:
    """The first 64 KiB were decoded to tell UTF-8 from GB18030; cut inside a Chinese
    character (three bytes in UTF-8), the file was refused as of an unknown character set."""

    def content(pad: int) -> bytes:
        lines = ["身份证号,体检日期,空腹血糖(mmol/L),备注", f"{ID_A},2026-03-01,5.0,{' ' * pad}"]
        lines += [f"{ID_A},2026-03-02,5.{n % 10},体检结果正常建议复查" for n in range(2000)]
        return "\n".join(lines).encode("utf-8")

    # the 64 KiB head ends inside a character (on a continuation byte)
    cut = next(c for c in map(content, range(3)) if 0x80 <= c[65536] < 0xC0)
    job = create(bob, cut, name="results.csv")
    assert job.columns["身份证号"] == "id_number" and job.columns["备注"] == "ignore"


def test_an_exam_date_written_as_an_excel_serial_in_text_is_read_as_that_date(bob: Any) -> None:
    """A date column formatted 常规 in Excel is saved to CSV (or kept as a text cell) as its
    serial, 46086: refused as "not a date", while the same serial as a number was read."""
    content = f"姓名,身份证号,体检日期,空腹血糖(mmol/L)\n吴国平,{ID_A},46086,5.2\n"
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 1, 0)
    glucose = Observation.objects.get(code="14771-0")
    assert timezone.localtime(glucose.effective_at).date() == date(2026, 3, 5)


def test_the_error_report_names_the_files_own_columns(bob: Any) -> None:
    """The report named the field a column was mapped to (检查日期 for the file's 体检日期),
    and a row without results under the internal key "item:"."""
    content = (
        "姓名,身份证号,体检日期,空腹血糖(mmol/L)\n"
        f"吴国平,{ID_A},三月五日,5.2\n"
        f"郑小红,{ID_B},2026-03-05,\n"
        f"吴国平,{ID_A},2026-03-06,阴性\n"
    )
    with translation.override("zh-hans"):
        job = Importer(create(bob, content.encode(), name="results.csv")).run()
    lines = list(load_workbook(io.BytesIO(job.error_report.read())).active.values)
    problems = {line[0]: line[-1] for line in lines[1:]}
    assert problems[2].startswith("体检日期: ")  # not "检查日期: "
    assert problems[3] == "此行没有结果。"
    assert problems[4].startswith("空腹血糖(mmol/L)：")  # the message names its column


@pytest.mark.parametrize("known", [False, True])
def test_a_result_given_twice_in_a_file_is_stored_once(
    bob: Any, patient_factory: Any, known: bool
) -> None:
    """Two rows apart only in a column not imported (the export's 序号) are the same result:
    both were stored, for a patient enrolled by the import and for one known before."""
    if known:
        born = date(1965, 2, 3)
        patient_factory(organisation=bob.organisation, birth_date=born, id_number=ID_A)
    content = (
        "序号,姓名,身份证号,体检日期,空腹血糖(mmol/L)\n"
        f"1,吴国平,{ID_A},2026-03-01,5.5\n"
        f"2,吴国平,{ID_A},2026-03-01,5.5\n"
        f"3,吴国平,{ID_A},2026-03-02,5.5\n"
    )
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.already_stored_rows) == ("done", 2, 1)
    assert Observation.objects.filter(code="14771-0").count() == 2


def test_an_id_number_excel_stored_as_a_number_is_said_to_have_lost_its_digits(
    bob: Any,
) -> None:
    """Typed into a number cell, an ID number keeps 15 digits (1.10101E+17): the report said
    only that its check digit was wrong, which no retyping of the same cell fixes."""
    with translation.override("zh-hans"):
        job = Importer(create(bob, xlsx([["吴国平", int(ID_A), "2026-03-01", 5.5]], SHORT))).run()
    lines = list(load_workbook(io.BytesIO(job.error_report.read())).active.values)
    assert (job.imported_rows, job.error_rows) == (0, 1)
    assert "15 位" in lines[1][-1] and "文本" in lines[1][-1] and "校验位" not in lines[1][-1]


def test_headers_padded_with_full_width_spaces_are_recognised(bob: Any) -> None:
    """Exam centres pad two-character headers to the column's width ("姓　　名", "性　别"):
    they were not recognised, and the sheet had no column of names."""
    content = f"姓　　名,性　别,身份证号,体检日期,空 腹 血 糖\n吴国平,男,{ID_A},2026-03-05,5.2\n"
    job = create(bob, content.encode(), name="results.csv")
    assert job.columns["姓  名"] == "name" and job.columns["性 别"] == "sex"  # NFKC: U+3000 → " "
    assert job.columns["空 腹 血 糖"] == "item:14771-0"


def test_the_columns_of_an_all_or_nothing_import_stopped_by_a_wrong_row_are_remembered(
    bob: Any,
) -> None:
    """The clerk maps the file's own columns, one row is wrong, nothing is imported: the
    corrected file from the same source was proposed the guessed columns again (a mapping
    was remembered only when an import finished)."""
    header = "客户编号,客户名称,证件号码,到检日期,空腹血糖(mmol/L)\n"
    wrong = f"K001,吴国平,{ID_A},2026-03-05,5.2\nK002,郑小红,{ID_B},三月五日,5.6\n"
    job = create(bob, (header + wrong).encode(), name="results.csv", mode="all")
    columns = {
        **job.columns,
        "客户编号": "exam_number",
        "客户名称": "name",
        "证件号码": "id_number",
        "到检日期": "effective_at",
    }
    do_start_import(bob, job, columns)
    job = Importer(ImportJob.objects.get(pk=job.pk)).run()
    assert (job.status, job.error_rows) == ("failed", 1) and not Observation.objects.exists()
    fixed = header + wrong.replace("三月五日", "2026-03-05")
    again = create(bob, fixed.encode(), name="results-fixed.csv", mode="all")
    assert again.columns == columns


def test_a_sex_written_as_a_word_is_read(bob: Any) -> None:
    """性别 男性 / 女性, as some exports write it: the row was refused ("must be 男/女")."""
    content = (
        "姓名,性别,出生日期,体检号,体检日期,空腹血糖(mmol/L)\n"
        "吴国平,男性,1965-02-03,TJ001,2026-03-05,5.2\n"
        "郑小红,女性,1972-07-09,TJ002,2026-03-05,5.6\n"
    )
    job = Importer(create(bob, content.encode(), name="results.csv")).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 2, 0)
    sexes = dict(Patient.objects.values_list("name", "sex"))
    assert sexes == {"吴国平": "male", "郑小红": "female"}


def test_patient_cells_merged_down_beside_their_items_are_read_on_each_row(bob: Any) -> None:
    """A long sheet names the patient and the exam date once, merged down beside the exam's
    items: the rows under the first had no ID number nor date, and were refused."""
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "体检日期", "项目名称", "结果", "单位"])
    sheet.append(["吴国平", ID_A, "2026-10-01", "空腹血糖", 5.5, "mmol/L"])
    sheet.append([None, None, None, "总胆固醇", 4.4, "mmol/L"])
    sheet.append([None, None, None, "甘油三酯", "", "mmol/L"])
    for column in "ABC":
        sheet.merge_cells(f"{column}2:{column}4")
    buffer = io.BytesIO()
    book.save(buffer)
    job = Importer(create(bob, buffer.getvalue())).run()
    assert (job.status, job.imported_rows, job.error_rows) == ("done", 2, 1)
    assert set(Observation.objects.values_list("code", flat=True)) == {"14771-0", "14647-2"}
    lines = list(load_workbook(io.BytesIO(job.error_report.read())).active.values)
    assert lines[1][:4] == (4, "吴国平", ID_A, "2026-10-01")  # the empty result: its patient


def test_a_first_generation_15_digit_id_number_is_read_converted_and_matched(
    bob: Any, patient_factory: Any, client: Any
) -> None:
    """Old records of elderly patients hold 一代身份证 numbers (15 digits, no check
    character): converted to the 18-digit number, found as the patient already enrolled
    under it, and said in the preview."""
    from careloop.interop.importer.jobs import preview

    known = patient_factory(organisation=bob.organisation, id_number="11010519491231002X")
    when = datetime(2026, 11, 20, 8, 30)
    rows = [
        # the known patient's number, typed into a text cell and into a number cell
        [
            "TJ101",
            "王淑珍",
            "女",
            None,
            "110105491231002",
            "",
            when,
            "14771-0",
            "空腹血糖",
            5.1,
            "mmol/L",
            "",
        ],
        [
            "TJ102",
            "王淑珍",
            "",
            None,
            110105491231002,
            "",
            when,
            "2345-7",
            "血糖",
            5.2,
            "mmol/L",
            "",
        ],
        [
            "TJ103",
            "李福来",
            "",
            None,
            "320102360101001",
            "",
            when,
            "14771-0",
            "空腹血糖",
            6.0,
            "mmol/L",
            "",
        ],
        [
            "TJ104",
            "赵大年",
            "",
            None,
            "320102360230001",
            "",
            when,
            "14771-0",
            "空腹血糖",
            6.0,
            "mmol/L",
            "",
        ],
    ]
    job = create(bob, xlsx(rows))
    _mapping, parsed = preview(job)
    assert [bool(row.notes) for row in parsed] == [True, True, True, False]
    assert "15" in parsed[3].errors[0][1] and parsed[3].errors[0][0] == "id_number"
    client.force_login(bob)
    page = client.get(f"/interop/imports/{job.pk}/").content.decode()
    assert "15位（一代）身份证号已转换为18位身份证号" in page
    job = Importer(job).run()
    assert (job.imported_rows, job.error_rows, job.patients_created) == (3, 1, 1)
    assert Observation.objects.filter(patient=known).count() == 2
    li = Patient.objects.get(name="李福来")
    assert (li.id_number, li.birth_date, li.sex) == ("320102193601010017", date(1936, 1, 1), "male")


def test_a_landline_in_the_phone_column_is_imported_and_a_local_number_said_to_need_its_area_code(
    bob: Any,
) -> None:
    when = datetime(2026, 11, 20, 8, 30)
    rows = [
        [
            "TJ201",
            "刘桂英",
            "女",
            date(1938, 5, 1),
            "",
            "010-62345678",
            when,
            "14771-0",
            "空腹血糖",
            5.1,
            "mmol/L",
            "",
        ],
        [
            "TJ202",
            "周福生",
            "男",
            date(1940, 2, 2),
            "",
            "62345678",
            when,
            "14771-0",
            "空腹血糖",
            5.3,
            "mmol/L",
            "",
        ],
        # 0755-12345678 typed into a number cell: Excel dropped the leading 0
        [
            "TJ203",
            "陈秀兰",
            "女",
            date(1941, 3, 3),
            "",
            75512345678,
            when,
            "14771-0",
            "空腹血糖",
            5.4,
            "mmol/L",
            "",
        ],
    ]
    job = Importer(create(bob, xlsx(rows, header=[*HEADER[:5], "联系电话", *HEADER[6:]]))).run()
    assert (job.imported_rows, job.error_rows) == (2, 1)
    liu = Patient.objects.get(name="刘桂英")
    assert (liu.phone, liu.phone_kind) == ("010-62345678", "landline")
    assert Patient.objects.get(name="陈秀兰").phone == "0755-12345678"
    report = load_workbook(io.BytesIO(job.error_report.read())).active
    lines = list(report.iter_rows(values_only=True))
    assert "区号" in lines[1][-1] or "area code" in lines[1][-1]
