"""OneRoster 1.1 / 1.2 gradebook CSV drops (``bridge.sources.oneroster_csv``).

The drops are written here from the CSV binding's column lists (1.1 CSV Tables §3, 1.2 CSV
Binding); the pupils and teachers are made up.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bridge.model import LineItem, Result, ScoreStatus, SourceError
from bridge.sources.base import SOURCE_TYPES, build_source
from bridge.sources.oneroster_csv import OneRosterCsvSource

HEADERS = {
    "1.1": {
        "manifest.csv": ["propertyName", "value"],
        "categories.csv": ["sourcedId", "status", "dateLastModified", "title"],
        "classes.csv": ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
                        "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes",
                        "periods"],
        "lineItems.csv": ["sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
                          "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId", "resultValueMin",
                          "resultValueMax"],
        "results.csv": ["sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
                        "scoreStatus", "score", "scoreDate", "comment"],
    },
    "1.2": {
        "manifest.csv": ["propertyName", "value"],
        "categories.csv": ["sourcedId", "status", "dateLastModified", "title", "weight"],
        "classes.csv": ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
                        "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes",
                        "periods"],
        "lineItems.csv": ["sourcedId", "status", "dateLastModified", "title", "description", "assignDate", "dueDate",
                          "classSourcedId", "categorySourcedId", "academicSessionSourcedId", "schoolSourcedId",
                          "scoreScaleSourcedId", "resultValueMin", "resultValueMax"],
        "results.csv": ["sourcedId", "status", "dateLastModified", "lineItemSourcedId", "studentSourcedId",
                        "classSourcedId", "scoreScaleSourcedId", "scoreStatus", "score", "textScore", "scoreDate",
                        "comment", "inProgress", "incomplete", "late", "missing"],
    },
}

STAMP = "2024-09-10T08:00:00.000Z"


def rows(version: str) -> dict[str, list[dict[str, str]]]:
    """A small gradebook: class 5А (algebra), three pieces of work, four pupils' results."""
    v12 = version == "1.2"
    return {
        "manifest.csv": [
            {"propertyName": "manifest.version", "value": "1.0"},
            {"propertyName": "oneroster.version", "value": version},
            *({"propertyName": f"file.{f}", "value": "bulk"} for f in ("categories", "classes", "lineItems",
                                                                       "results")),
        ],
        "categories.csv": [
            {"sourcedId": "cat-hw", "title": "Домашняя работа", **({"weight": "0.4"} if v12 else {})},
            {"sourcedId": "cat-test", "title": "Контрольная", **({"weight": "0.6"} if v12 else {})},
        ],
        "classes.csv": [
            {"sourcedId": "class-5a-alg", "title": "5А Алгебра", "classType": "scheduled",
             "schoolSourcedId": "school-1", "termSourcedIds": "term-1", "subjects": "Алгебра,Математика"},
        ],
        "lineItems.csv": [
            {"sourcedId": "li-1", "title": "Упражнения 12–15", "description": "Стр. 34",
             "assignDate": "2024-09-02", "dueDate": "2024-09-05", "classSourcedId": "class-5a-alg",
             "categorySourcedId": "cat-hw", "resultValueMin": "1", "resultValueMax": "5",
             **({"academicSessionSourcedId": "term-1", "schoolSourcedId": "school-1"} if v12
                else {"gradingPeriodSourcedId": "term-1"})},
            {"sourcedId": "li-2", "title": "Контрольная №1", "assignDate": "2024-09-09",
             "dueDate": "2024-09-12T09:30:00Z", "classSourcedId": "class-5a-alg", "categorySourcedId": "cat-test",
             "resultValueMin": "1", "resultValueMax": "5"},
        ],
        "results.csv": [
            {"sourcedId": "r-1", "lineItemSourcedId": "li-1", "studentSourcedId": "stu-ivanova",
             "scoreStatus": "fully graded", "score": "5", "scoreDate": "2024-09-06", "comment": "Молодец",
             **({"classSourcedId": "class-5a-alg", "textScore": "5", "missing": "false", "late": "false"}
                if v12 else {})},
            {"sourcedId": "r-2", "lineItemSourcedId": "li-1", "studentSourcedId": "stu-petrov",
             "scoreStatus": "submitted", "scoreDate": "2024-09-05",
             **({"classSourcedId": "class-5a-alg", "late": "true"} if v12 else {})},
            {"sourcedId": "r-3", "lineItemSourcedId": "li-1", "studentSourcedId": "stu-smirnov",
             "scoreStatus": "not submitted", **({"missing": "true"} if v12 else {})},
            {"sourcedId": "r-4", "lineItemSourcedId": "li-2", "studentSourcedId": "stu-ivanova",
             "scoreStatus": "partially graded", "score": "3.5", "scoreDate": "2024-09-12",
             **({"textScore": "3+", "incomplete": "true"} if v12 else {})},
        ],
    }


def to_csv(header: list[str], records: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for record in records:
        assert set(record) <= set(header), set(record) - set(header)
        writer.writerow([record.get(h, STAMP if h == "dateLastModified" else "") for h in header])
    return out.getvalue()


def drop_files(version: str = "1.2", **changes: list[dict[str, str]] | None) -> dict[str, str]:
    """File name → CSV text; ``changes`` replaces (or with None removes) a file's rows (``results_csv=[...]``)."""
    data = rows(version)
    for key, value in changes.items():
        name = key.replace("_csv", ".csv")
        if value is None:
            del data[name]
        else:
            data[name] = value
    return {name: to_csv(HEADERS[version][name], recs) for name, recs in data.items()}


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


def source(path: Path) -> OneRosterCsvSource:
    return OneRosterCsvSource({"name": "school-csv", "type": "oneroster_csv", "org": "school-1", "path": str(path)})


def by_id(snapshot) -> dict[str, LineItem | Result]:
    return {r.item_id: r for r in snapshot.records}


def test_registered():
    assert SOURCE_TYPES["oneroster_csv"] is OneRosterCsvSource
    built = build_source({"name": "s", "type": "oneroster_csv", "org": "o", "path": "/nowhere"})
    assert isinstance(built, OneRosterCsvSource) and built.name == "s" and built.org == "o"


def test_config_needs_a_path():
    with pytest.raises(ValueError, match="path"):
        OneRosterCsvSource({"name": "s", "type": "oneroster_csv", "org": "o"})


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_both_versions_parsed(tmp_path, http, version):
    snap = await source(write(tmp_path / "drop", drop_files(version))).read(http, {})
    assert snap is not None and snap.complete
    records = by_id(snap)
    assert set(records) == {"li-1", "li-2", "r-1", "r-2", "r-3", "r-4"}

    li1 = records["li-1"]
    assert isinstance(li1, LineItem)
    assert (li1.class_id, li1.title, li1.description, li1.category) == (
        "class-5a-alg", "Упражнения 12–15", "Стр. 34", "Домашняя работа")
    assert li1.subject == "Алгебра" and li1.class_title == "5А Алгебра"     # classes.csv's first subject
    assert li1.assigned == date(2024, 9, 2) and li1.due == date(2024, 9, 5) and li1.max_score == 5.0
    assert records["li-2"].due == datetime(2024, 9, 12, 9, 30, tzinfo=UTC)

    r1 = records["r-1"]
    assert isinstance(r1, Result)
    assert (r1.line_item_id, r1.student_id, r1.class_id) == ("li-1", "stu-ivanova", "class-5a-alg")
    assert r1.status is ScoreStatus.FULLY_GRADED and r1.score == 5.0 and r1.graded
    assert r1.score_date == date(2024, 9, 6) and r1.comment == "Молодец"
    assert (r1.title, r1.subject, r1.class_title) == ("Упражнения 12–15", "Алгебра", "5А Алгебра")
    assert r1.text_score == ("5" if version == "1.2" else "")
    assert records["r-4"].status is ScoreStatus.PARTIALLY_GRADED and records["r-4"].score == 3.5


async def test_missing_submitted_and_graded_kept_apart(tmp_path, http):
    records = by_id(await source(write(tmp_path / "d", drop_files("1.2"))).read(http, {}))
    graded, submitted, missing = records["r-1"], records["r-2"], records["r-3"]
    assert graded.graded and not graded.missing
    assert submitted.status is ScoreStatus.SUBMITTED and not submitted.missing and not submitted.graded
    assert submitted.late and submitted.score is None
    assert missing.status is ScoreStatus.NOT_SUBMITTED and missing.missing and not missing.graded
    assert records["r-4"].incomplete and records["r-4"].text_score == "3+"


async def test_missing_flag_alone_means_not_handed_in(tmp_path, http):
    results = [{"sourcedId": "r-9", "lineItemSourcedId": "li-1", "studentSourcedId": "stu-orlova",
                "scoreStatus": "fully graded", "score": "2", "missing": "true"}]
    records = by_id(await source(write(tmp_path / "d", drop_files("1.2", results_csv=results))).read(http, {}))
    assert records["r-9"].missing and records["r-9"].status is ScoreStatus.FULLY_GRADED


async def test_category_is_the_subject_without_classes_csv(tmp_path, http):
    records = by_id(await source(write(tmp_path / "d", drop_files("1.1", classes_csv=None))).read(http, {}))
    assert records["li-2"].subject == "Контрольная" and records["li-2"].class_title == ""
    assert records["r-4"].subject == "Контрольная" and records["r-4"].title == "Контрольная №1"


async def test_bad_rows_reported_and_good_rows_kept(tmp_path, http):
    results = rows("1.2")["results.csv"]
    results[1] = {**results[1], "scoreDate": "05.09.2024"}            # line 3
    results[2] = {**results[2], "scoreStatus": "done"}                  # line 4
    results.append({"sourcedId": "r-5", "lineItemSourcedId": "li-404", "studentSourcedId": "stu-orlova",
                    "scoreStatus": "submitted"})                        # line 6
    src = source(write(tmp_path / "d", drop_files("1.2", results_csv=results)))
    records = by_id(await src.read(http, {}))
    assert {"r-1", "r-4"} <= set(records) and not {"r-2", "r-3", "r-5"} & set(records)
    assert len(src.problems) == 3
    assert src.problems[0].startswith("results.csv:3:scoreDate: bad date '05.09.2024'; write dates as YYYY-MM-DD")
    assert src.problems[1].startswith("results.csv:4:scoreStatus: unknown score status 'done'")
    assert src.problems[2].startswith("results.csv:6:lineItemSourcedId: no line item 'li-404'")


async def test_line_numbers_count_quoted_line_breaks(tmp_path, http):
    results = rows("1.2")["results.csv"]
    results[0] = {**results[0], "comment": "Первая строка\nвторая строка"}   # lines 2–3
    results[1] = {**results[1], "score": "пять"}                             # line 4
    src = source(write(tmp_path / "d", drop_files("1.2", results_csv=results)))
    records = by_id(await src.read(http, {}))
    assert records["r-1"].comment == "Первая строка\nвторая строка"
    assert src.problems == ["results.csv:4:score: not a number 'пять'; write a number such as 4 or 4.5"]


async def test_ragged_row_reported(tmp_path, http):
    files = drop_files("1.2")
    files["results.csv"] += "r-6,,,li-1,stu-orlova\r\n"
    src = source(write(tmp_path / "d", files))
    records = by_id(await src.read(http, {}))
    assert "r-6" not in records and "r-1" in records
    assert src.problems == ["results.csv:6:classSourcedId: 5 fields where the header has 16; "
                            "quote values that contain commas"]


async def test_bad_line_item_keeps_its_results(tmp_path, http):
    items = rows("1.2")["lineItems.csv"]
    items[0] = {**items[0], "dueDate": "завтра"}
    src = source(write(tmp_path / "d", drop_files("1.2", lineItems_csv=items)))
    records = by_id(await src.read(http, {}))
    assert "li-1" not in records and records["r-1"].title == "" and records["r-1"].class_id == "class-5a-alg"
    assert src.problems == ["lineItems.csv:2:dueDate: bad date 'завтра'; write dates as YYYY-MM-DD or "
                            "YYYY-MM-DDThh:mm:ssZ (ISO 8601)"]


async def test_missing_required_column_raises(tmp_path, http):
    files = drop_files("1.2")
    files["lineItems.csv"] = files["lineItems.csv"].replace("classSourcedId,", "classId,", 1)
    with pytest.raises(SourceError) as e:
        await source(write(tmp_path / "d", files)).read(http, {})
    assert str(e.value).startswith("lineItems.csv:1:classSourcedId: required column missing")
    assert e.value.retry is False


async def test_missing_required_file_raises(tmp_path, http):
    with pytest.raises(SourceError, match=r"^results\.csv: required file missing") as e:
        await source(write(tmp_path / "d", drop_files("1.2", results_csv=None))).read(http, {})
    assert e.value.retry is False


async def test_missing_folder_raises(tmp_path, http):
    with pytest.raises(SourceError, match="no such folder or zip; check path") as e:
        await source(tmp_path / "nowhere").read(http, {})
    assert e.value.retry is False


async def test_every_row_bad_raises(tmp_path, http):
    results = [{**r, "scoreDate": "вчера"} for r in rows("1.2")["results.csv"]]
    for r in results:
        r["scoreStatus"] = "fully graded"
    with pytest.raises(SourceError, match=r"^results\.csv:2:scoreDate: bad date .*every other row"):
        await source(write(tmp_path / "d", drop_files("1.2", results_csv=results))).read(http, {})


async def test_wrong_encoding_raises_at_the_byte(tmp_path, http):
    folder = write(tmp_path / "d", drop_files("1.2"))
    (folder / "categories.csv").write_bytes(drop_files("1.2")["categories.csv"].encode("cp1251"))
    with pytest.raises(SourceError) as e:
        await source(folder).read(http, {})
    # line 2 is "cat-hw,,<stamp>,Домашняя работа,0.4": the title starts at byte 34
    assert str(e.value) == "categories.csv:2:34: not UTF-8 (byte 0xc4); export or save the file as UTF-8"
    assert e.value.retry is False


async def test_bom_accepted(tmp_path, http):
    src = source(write(tmp_path / "d", drop_files("1.1"), encoding="utf-8-sig"))
    records = by_id(await src.read(http, {}))
    assert {"li-1", "r-1"} <= set(records) and src.problems == []


async def test_zip_with_a_subfolder(tmp_path, http):
    archive = tmp_path / "gradebook.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in drop_files("1.2").items():
            z.writestr(f"export-2024-09-12/{name}", text.encode("utf-8-sig"))
    src = source(archive)
    snap = await src.read(http, {})
    assert snap is not None and len(snap.records) == 6 and src.problems == []
    assert await src.read(http, snap.validators) is None


async def test_not_a_zip_raises(tmp_path, http):
    (tmp_path / "gradebook.zip").write_bytes(b"not a zip")
    with pytest.raises(SourceError, match="not a readable zip"):
        await source(tmp_path / "gradebook.zip").read(http, {})


async def test_lower_case_file_names(tmp_path, http):
    files = {name.lower(): text for name, text in drop_files("1.2").items()}
    assert len((await source(write(tmp_path / "d", files)).read(http, {})).records) == 6


async def test_tobedeleted_dropped(tmp_path, http):
    data = rows("1.2")
    items = [{**data["lineItems.csv"][0]}, {**data["lineItems.csv"][1], "status": "tobedeleted"}]
    results = [dict(r) for r in data["results.csv"]]
    results[1]["status"] = "tobedeleted"
    files = drop_files("1.2", lineItems_csv=items, results_csv=results)
    src = source(write(tmp_path / "d", files))
    records = by_id(await src.read(http, {}))
    # li-2 went, with its result r-4; r-2 went on its own
    assert set(records) == {"li-1", "r-1", "r-3"} and src.problems == []


async def test_delta_manifest_is_not_complete(tmp_path, http):
    manifest = [{"propertyName": "oneroster.version", "value": "1.2"},
                {"propertyName": "file.lineItems", "value": "absent"},
                {"propertyName": "file.results", "value": "delta"}]
    results = [{"sourcedId": "r-7", "lineItemSourcedId": "li-1", "studentSourcedId": "stu-orlova",
                "scoreStatus": "fully graded", "score": "4"}]
    files = drop_files("1.2", manifest_csv=manifest, lineItems_csv=None, results_csv=results)
    snap = await source(write(tmp_path / "d", files)).read(http, {})
    assert snap is not None and not snap.complete
    assert [r.item_id for r in snap.records] == ["r-7"]


async def test_unchanged_folder_gives_none(tmp_path, http):
    folder = write(tmp_path / "d", drop_files("1.2"))
    src = source(folder)
    first = await src.read(http, {})
    assert first is not None and len(first.validators["hash"]) == 64
    assert await src.read(http, first.validators) is None
    (folder / "results.csv").write_text(drop_files("1.2")["results.csv"].replace("Молодец", "Отлично"),
                                        encoding="utf-8")
    second = await src.read(http, first.validators)
    assert second is not None and second.validators["hash"] != first.validators["hash"]
    assert by_id(second)["r-1"].comment == "Отлично"
    (folder / "notes.txt").write_text("не часть выгрузки", encoding="utf-8")      # not a OneRoster file
    assert await src.read(http, second.validators) is None
