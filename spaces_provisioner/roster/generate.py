"""A deterministic generator of an invented Russian general school, written as a OneRoster 1.2 CSV roster.

Job: make up a realistic school (classes «1А»..«11Г», primary and subject teachers with
their subjects and class teachers, pupils with ФИО built the Russian way, their families
with one or two guardians and siblings in other classes) and write it as a roster that
any OneRoster 1.2 importer, Parta's :func:`spaces_provisioner.roster.load_roster` among
them, reads. Pure Python: no network, no Synapse; the same arguments give the same bytes.

Public API::

    SchoolSize, SIZES                                   # "small", "medium", "large"
    generate_school(size="small", seed=7) -> GeneratedSchool
    write_oneroster(school, folder) -> list[Path]       # OneRoster 1.2 CSV, bulk
    feminine_surname(masculine) -> str

Sources:

- 1EdTech "OneRoster v1.2 Rostering CSV" binding (OneRoster: CSV Binding 1.2.1, 22 August
  2023, https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv): the file names and
  headers, ``manifest.csv`` (``oneroster.version`` 1.2, ``file.*`` bulk/absent), bulk
  rows with blank ``status`` and ``dateLastModified``, ``roles.csv`` with ``roleType``
  primary, the role words (teacher, student, parent, guardian), ``grades`` as two-digit
  codes ("01".."11"), ``agentSourcedIds`` linking pupils and their guardians.
- ``data/names_ru.yaml``: the names with their patronymics, the surnames, the feminine
  surname endings, the subjects with weekly hours (after the federal curriculum) and who
  teaches them. All people are invented.
"""

from __future__ import annotations

import functools
import pathlib
import random
from dataclasses import dataclass, field

from ruamel.yaml import YAML

from policies.model import FullName

from spaces_provisioner.roster.write import write_csv

__all__ = [
    "SIZES",
    "GeneratedClass",
    "GeneratedGuardian",
    "GeneratedPupil",
    "GeneratedSchool",
    "GeneratedTeacher",
    "SchoolSize",
    "feminine_surname",
    "generate_school",
    "write_oneroster",
]

DATA_FILE = pathlib.Path(__file__).with_name("data") / "names_ru.yaml"

LETTERS = "АБВГ"
LATIN = {"А": "a", "Б": "b", "В": "v", "Г": "g"}

ORG_ID = "org-1"
ORG_NAME = "Средняя общеобразовательная школа № 7"  # the demo's example application
YEAR_ID = "year-2026-2027"
YEAR_TITLE = "2026/2027 учебный год"
YEAR_START, YEAR_END = "2026-09-01", "2027-05-31"
# OneRoster's schoolYear is the calendar year in which the school year ends.
YEAR_NUMBER = "2027"

MALE, FEMALE = "male", "female"
MOTHER, FATHER, GRANDMOTHER = "mother", "father", "grandmother"

# Family shapes, as shares of families. Most Russian pupils live with both parents; about one
# in six with the mother only; a few with a grandmother as the legal guardian (опекун).
TWO_PARENTS, MOTHER_ONLY = 0.80, 0.14
# Share of families with a second child at the same school (in another grade).
SIBLING_SHARE = 0.13
# A subject teacher's weekly load in academic hours: one rate (ставка) is 18 hours, and
# most teachers work one to one and a half rates.
LOAD_RANGE = (18, 26)
# A last teacher left with fewer hours than this, or with one class, joins the previous one's
# classes: a subject teacher teaches several classes, not one class for two hours.
MIN_LOAD = 6


@dataclass(frozen=True)
class SchoolSize:
    """How big a school to make.

    - ``grades``: grade levels, each 1..11, e.g. ``(1, 2, ..., 11)``;
    - ``letters``: classes per grade, 1..4 (1 → only «А», 2 → «А», «Б», ... 4 → up to «Г»);
    - ``pupils_per_class``: ``(least, most)`` pupils in one class, inclusive;
    - ``letters_by_grade``: ``((grade, letters), ...)`` overriding ``letters`` for the
      grades named (schools often have fewer parallel classes in the upper grades).
    """

    grades: tuple[int, ...]
    letters: int
    pupils_per_class: tuple[int, int]
    letters_by_grade: tuple[tuple[int, int], ...] = ()

    def letters_of(self, grade: int) -> int:
        """Number of classes in ``grade``."""
        return dict(self.letters_by_grade).get(grade, self.letters)


ALL_GRADES = tuple(range(1, 12))
SIZES: dict[str, SchoolSize] = {
    # A demo that is quick to provision: every class exists, each with a handful of pupils.
    "small": SchoolSize(ALL_GRADES, 2, (4, 6)),
    "medium": SchoolSize(ALL_GRADES, 2, (20, 28)),
    # About 1000 pupils in 40 classes: four parallels up to grade 7, three from grade 8.
    "large": SchoolSize(ALL_GRADES, 4, (23, 28), letters_by_grade=((8, 3), (9, 3), (10, 3), (11, 3))),
}


# -- the model ------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedClass:
    """A class: ``source_id`` "class-05a", ``title`` «5А», ``grade`` 5, ``letter`` «А».

    ``homeroom_teacher_id`` is the class teacher (классный руководитель), a teacher's
    ``source_id``.
    """

    source_id: str
    title: str
    grade: int
    letter: str
    homeroom_teacher_id: str

    @property
    def grade_code(self) -> str:
        """The OneRoster grade: "01".."11"."""
        return f"{self.grade:02d}"


@dataclass(frozen=True)
class _Person:
    source_id: str
    family_name: str
    given_name: str
    middle_name: str
    sex: str  # "female" or "male"

    @property
    def name(self) -> FullName:
        """ФИО as :class:`policies.model.FullName`."""
        return FullName(self.family_name, self.given_name, self.middle_name)


@dataclass(frozen=True)
class GeneratedTeacher(_Person):
    """A teacher ("teacher-001"): ``subjects`` they teach, in Russian (a primary-school
    teacher's is ``("Начальные классы",)``), and ``class_ids`` of the classes they teach.
    """

    subjects: tuple[str, ...] = ()
    class_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedPupil(_Person):
    """A pupil ("pupil-0001") of class ``class_id`` with one or two ``guardian_ids``."""

    class_id: str = ""
    guardian_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedGuardian(_Person):
    """A guardian ("guardian-0001"): ``relation`` "mother", "father" or "grandmother";
    ``child_ids`` are pupils' ``source_id`` (one or two, in different classes).
    """

    relation: str = ""
    child_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GeneratedSchool:
    """A generated school: everything in ``source_id`` order.

    ``classes`` are ordered 1А, 1Б, ..., 11Б; ``teachers`` start with the primary-school
    teachers in class order.
    """

    size: SchoolSize
    seed: int
    classes: tuple[GeneratedClass, ...]
    teachers: tuple[GeneratedTeacher, ...]
    pupils: tuple[GeneratedPupil, ...]
    guardians: tuple[GeneratedGuardian, ...]

    def class_by_id(self) -> dict[str, GeneratedClass]:
        """``{source_id: GeneratedClass}``."""
        return {c.source_id: c for c in self.classes}

    def pupil_by_id(self) -> dict[str, GeneratedPupil]:
        """``{source_id: GeneratedPupil}``."""
        return {p.source_id: p for p in self.pupils}

    def guardian_by_id(self) -> dict[str, GeneratedGuardian]:
        """``{source_id: GeneratedGuardian}``."""
        return {g.source_id: g for g in self.guardians}

    def demo_people(self) -> dict[str, str]:
        """The sourcedIds a demo gives accounts to, always the same for the same school.

        ``{"student": ..., "parent": ..., "teacher": ..., "teacher_unconfirmed": ...}``:

        - ``student``: the first pupil of a grade 5–9 class who has two guardians, one of
          whom has another child in another class;
        - ``parent``: that guardian;
        - ``teacher``: the class teacher of the student's class (to be confirmed by the demo);
        - ``teacher_unconfirmed``: the first teacher who does not teach that class.

        Raises :class:`LookupError` if the school has no such people (possible only for a
        custom :class:`SchoolSize` without grades 5–9).
        """
        classes = self.class_by_id()
        pupils = self.pupil_by_id()
        guardians = self.guardian_by_id()
        for pupil in self.pupils:
            cls = classes[pupil.class_id]
            if not 5 <= cls.grade <= 9 or len(pupil.guardian_ids) != 2:
                continue
            parent = next(
                (
                    g
                    for g in pupil.guardian_ids
                    if any(pupils[c].class_id != pupil.class_id for c in guardians[g].child_ids)
                ),
                None,
            )
            if parent is None:
                continue
            outsider = next((t for t in self.teachers if cls.source_id not in t.class_ids), None)
            if outsider is None:
                break
            return {
                "teacher": cls.homeroom_teacher_id,
                "teacher_unconfirmed": outsider.source_id,
                "student": pupil.source_id,
                "parent": parent,
            }
        raise LookupError(
            "no demo people: no grade 5-9 pupil with two guardians, one with a child in another class,"
            " and a teacher who does not teach the pupil's class"
        )


# -- the data file --------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    patronymics: dict[str, tuple[str, str]]  # male given name → (masculine, feminine)
    female_names: tuple[str, ...]
    generations: dict[str, dict[str, tuple[str, ...]]]  # children/parents/grandparents → sex → names
    surnames: tuple[str, ...]
    endings: tuple[tuple[str, str], ...]  # longest masculine ending first
    hours: dict[str, dict[int, int]]  # subject → grade → academic hours per week
    primary_grades: frozenset[int]
    primary_subject: str
    primary_teaches: frozenset[str]
    primary_male_share: float
    specialties: tuple[tuple[tuple[str, ...], float], ...]  # (subjects, share of men)


@functools.lru_cache(maxsize=1)
def _data() -> _Data:
    """``data/names_ru.yaml``, checked; ValueError names what is wrong with it."""
    raw = YAML(typ="safe").load(DATA_FILE.read_text(encoding="utf-8"))
    try:
        patronymics = {str(k): (str(v[0]), str(v[1])) for k, v in raw["male_names"].items() if len(v) == 2}
        if len(patronymics) != len(raw["male_names"]):
            raise ValueError("every male name needs exactly two patronymics [masculine, feminine]")
        female = tuple(str(n) for n in raw["female_names"])
        generations = {
            gen: {MALE: tuple(lists["male"]), FEMALE: tuple(lists["female"])}
            for gen, lists in raw["generations"].items()
        }
        for gen in ("children", "parents", "grandparents"):
            unknown = (set(generations[gen][MALE]) - set(patronymics)) | (set(generations[gen][FEMALE]) - set(female))
            if unknown:
                raise ValueError(f"generations.{gen} names unknown names: {sorted(unknown)}")
        endings = tuple(
            sorted(((str(k), str(v)) for k, v in raw["feminine_surname_endings"].items()), key=lambda e: -len(e[0]))
        )
        hours = {str(s): {int(g): int(h) for g, h in by_grade.items()} for s, by_grade in raw["subjects"].items()}
        primary = raw["primary"]
        specialties = tuple((tuple(s["subjects"]), float(s["male_share"])) for s in raw["specialties"])
        for subjects, _share in specialties:
            if not 1 <= len(subjects) <= 2 or set(subjects) - set(hours):
                raise ValueError(f"a specialty needs one or two known subjects: {subjects}")
        if set(primary["teaches"]) - set(hours):
            raise ValueError(f"primary.teaches names unknown subjects: {primary['teaches']}")
        return _Data(
            patronymics=patronymics,
            female_names=female,
            generations=generations,
            surnames=tuple(str(s) for s in raw["surnames"]),
            endings=endings,
            hours=hours,
            primary_grades=frozenset(int(g) for g in primary["grades"]),
            primary_subject=str(primary["subject"]),
            primary_teaches=frozenset(primary["teaches"]),
            primary_male_share=float(primary["male_share"]),
            specialties=specialties,
        )
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{DATA_FILE}: broken name data ({e!r})") from e


def feminine_surname(masculine: str) -> str:
    """The feminine form of a Russian surname given in its masculine form.

    -ов/-ев/-ёв/-ин/-ын add «а» (Иванов → Иванова, Кузьмин → Кузьмина); -ский/-цкий →
    -ская/-цкая (Достоевский → Достоевская); -ой and adjectival -ый/-ий → -ая (Толстой →
    Толстая, Белый → Белая, Долгий → Долгая); any other surname is unchanged (Шевченко,
    Черных, Ковальчук, Петрович, Гогидзе, Акопян). A hyphenated surname changes part by
    part (Петров-Водкин → Петрова-Водкина). The endings table is ``feminine_surname_endings``
    in ``data/names_ru.yaml``. Raises ValueError only if that file is broken.
    """
    endings = _data().endings
    parts = []
    for part in masculine.split("-"):
        for ending, feminine in endings:
            # A bare ending ("Ов") is not a surname with that ending.
            if len(part) > len(ending) and part.endswith(ending):
                part = part[: -len(ending)] + feminine
                break
        parts.append(part)
    return "-".join(parts)


# -- generation -----------------------------------------------------------------------


def _class_id(grade: int, letter: str) -> str:
    return f"class-{grade:02d}{LATIN[letter]}"


@dataclass
class _Teacher:
    sex: str
    name: tuple[str, str, str]
    subjects: list[str]
    classes: dict[int, int] = field(default_factory=dict)  # class index → hours per week


@dataclass
class _Adult:
    relation: str
    sex: str
    name: tuple[str, str, str]
    kids: list[_Kid] = field(default_factory=list)
    source_id: str = ""


@dataclass
class _Kid:
    cls: int
    sex: str
    name: tuple[str, str, str]
    guardians: list[_Adult] = field(default_factory=list)
    source_id: str = ""


def _resolve(size: SchoolSize | str) -> SchoolSize:
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"unknown school size {size!r}; expected one of {', '.join(SIZES)}")
        size = SIZES[size]
    least, most = size.pupils_per_class
    if not size.grades or any(not 1 <= g <= 11 for g in size.grades) or len(set(size.grades)) != len(size.grades):
        raise ValueError(f"grades must be distinct numbers 1..11, not {size.grades}")
    if any(not 1 <= size.letters_of(g) <= len(LETTERS) for g in size.grades):
        raise ValueError(f"a grade has 1..{len(LETTERS)} classes")
    if not 1 <= least <= most:
        raise ValueError(f"pupils_per_class must be (least, most) with 1 <= least <= most, not {size.pupils_per_class}")
    return size


def generate_school(size: SchoolSize | str = "small", seed: int = 7) -> GeneratedSchool:
    """Make up a school of ``size`` (a :class:`SchoolSize` or a key of :data:`SIZES`).

    The same ``size`` and ``seed`` give the same school (``random.Random(seed)``; no
    global random state, no clock). Returns a :class:`GeneratedSchool`.

    Raises ValueError for an unknown preset name, a size outside 1..11 grades / 1..4
    classes per grade / at least one pupil per class, a broken data file, or a size whose
    teachers cannot give every class 5–11 its own class teacher.
    """
    spec = _resolve(size)
    data = _data()
    rng = random.Random(seed)
    grid = [(g, LETTERS[i]) for g in sorted(spec.grades) for i in range(spec.letters_of(g))]
    class_ids = [_class_id(g, letter) for g, letter in grid]

    teachers, homeroom = _make_teachers(rng, data, grid)
    kids, adults = _make_families(rng, data, spec, grid)

    teacher_ids = [f"teacher-{i:03d}" for i in range(1, len(teachers) + 1)]
    classes = tuple(
        GeneratedClass(class_ids[i], f"{g}{letter}", g, letter, teacher_ids[homeroom[i]])
        for i, (g, letter) in enumerate(grid)
    )
    out_teachers = tuple(
        GeneratedTeacher(
            teacher_ids[i],
            *t.name,
            t.sex,
            subjects=tuple(t.subjects),
            class_ids=tuple(class_ids[c] for c in sorted(t.classes)),
        )
        for i, t in enumerate(teachers)
    )
    # Pupils and guardians are numbered in class-register order: by class, then alphabetically.
    for n, kid in enumerate(kids, 1):
        kid.source_id = f"pupil-{n:04d}"
    n = 0
    for kid in kids:
        for adult in kid.guardians:
            if not adult.source_id:
                n += 1
                adult.source_id = f"guardian-{n:04d}"
    pupils = tuple(
        GeneratedPupil(
            k.source_id, *k.name, k.sex, class_id=class_ids[k.cls], guardian_ids=tuple(a.source_id for a in k.guardians)
        )
        for k in kids
    )
    guardians = tuple(
        GeneratedGuardian(
            a.source_id, *a.name, a.sex, relation=a.relation, child_ids=tuple(sorted(k.source_id for k in a.kids))
        )
        for a in sorted(adults, key=lambda a: a.source_id)
    )
    return GeneratedSchool(spec, seed, classes, out_teachers, pupils, guardians)


def _adult_name(
    rng: random.Random, data: _Data, sex: str, surname: str, gen: str = "parents", given: str = ""
) -> tuple[str, str, str]:
    """ФИО of an adult of generation ``gen`` (``given`` if set), the patronymic from a grandparents' name."""
    given = given or rng.choice(data.generations[gen][sex])
    father = rng.choice(data.generations["grandparents"][MALE])
    if sex == MALE:
        return surname, given, data.patronymics[father][0]
    return feminine_surname(surname), given, data.patronymics[father][1]


def _make_teachers(
    rng: random.Random, data: _Data, grid: list[tuple[int, str]]
) -> tuple[list[_Teacher], dict[int, int]]:
    """Teachers (primary first, then by specialty) and ``{class index: teacher index}`` of class teachers."""
    teachers: list[_Teacher] = []
    homeroom: dict[int, int] = {}
    used: set[tuple[str, str, str]] = set()

    def new_teacher(male_share: float, subjects: list[str]) -> _Teacher:
        sex = MALE if rng.random() < male_share else FEMALE
        # Teachers are of the parents' and the grandparents' generations alike.
        gen = "parents" if rng.random() < 0.6 else "grandparents"
        # No two teachers share a full name: the staff list must tell them apart.
        name = _adult_name(rng, data, sex, rng.choice(data.surnames), gen)
        while name in used:
            name = _adult_name(rng, data, sex, rng.choice(data.surnames), gen)
        used.add(name)
        teacher = _Teacher(sex, name, subjects)
        teachers.append(teacher)
        return teacher

    for i, (grade, _letter) in enumerate(grid):
        if grade in data.primary_grades:
            teacher = new_teacher(data.primary_male_share, [data.primary_subject])
            teacher.classes[i] = sum(data.hours[s].get(grade, 0) for s in data.primary_teaches)
            homeroom[i] = len(teachers) - 1

    for subjects, male_share in data.specialties:
        items = []
        for i, (grade, _letter) in enumerate(grid):
            taught = [
                s
                for s in subjects
                if data.hours[s].get(grade) and not (grade in data.primary_grades and s in data.primary_teaches)
            ]
            if taught:
                items.append((i, sum(data.hours[s][grade] for s in taught), taught))
        groups: list[list[tuple[int, int, list[str]]]] = []
        capacity = load = 0
        for item in items:
            if not groups or load + item[1] > capacity:
                groups.append([])
                capacity, load = rng.randint(*LOAD_RANGE), 0
            groups[-1].append(item)
            load += item[1]
        if len(groups) > 1 and (load < MIN_LOAD or len(groups[-1]) == 1):
            groups[-2].extend(groups.pop())
        for group in groups:
            taught_here = {s for _i, _h, taught in group for s in taught}
            teacher = new_teacher(male_share, [s for s in subjects if s in taught_here])
            for i, hours, _taught in group:
                teacher.classes[i] = hours

    _match_homeroom(rng, teachers, homeroom, grid)
    return teachers, homeroom


def _match_homeroom(
    rng: random.Random, teachers: list[_Teacher], homeroom: dict[int, int], grid: list[tuple[int, str]]
) -> None:
    """Give each class without one a class teacher who teaches it, never two classes to one teacher.

    A bipartite matching (Kuhn's augmenting paths): a greedy choice can leave a class whose
    only free candidates were taken earlier. Candidates with more hours in the class come
    first, as schools prefer the teacher who sees the class most.
    """
    taken = set(homeroom.values())
    candidates: dict[int, list[int]] = {}
    for c in range(len(grid)):
        if c in homeroom:
            continue
        ranked = [
            (-t.classes[c], rng.random(), ti) for ti, t in enumerate(teachers) if c in t.classes and ti not in taken
        ]
        candidates[c] = [ti for _h, _r, ti in sorted(ranked)]
    owner: dict[int, int] = {}  # teacher index → class index

    def assign(c: int, seen: set[int]) -> bool:
        for ti in candidates[c]:
            if ti in seen:
                continue
            seen.add(ti)
            if ti not in owner or assign(owner[ti], seen):
                owner[ti] = c
                return True
        return False

    for c in candidates:
        if not assign(c, set()):
            title = "".join(map(str, grid[c]))
            raise ValueError(f"class {title} cannot get a class teacher of its own: too few teachers teach it")
    for ti, c in owner.items():
        homeroom[c] = ti


def _make_families(
    rng: random.Random, data: _Data, spec: SchoolSize, grid: list[tuple[int, str]]
) -> tuple[list[_Kid], list[_Adult]]:
    """Pupils in class-register order and their guardians."""
    seats = [i for i in range(len(grid)) for _ in range(rng.randint(*spec.pupils_per_class))]
    rng.shuffle(seats)
    taken_names: dict[int, set[tuple[str, str, str]]] = {}
    kids: list[_Kid] = []
    adults: list[_Adult] = []

    def sibling_seat(first: int) -> int | None:
        """A free seat for a brother or sister: another grade, one to six years apart."""
        for j in range(len(seats) - 1, -1, -1):
            if 1 <= abs(grid[seats[j]][0] - grid[first][0]) <= 6:
                return seats.pop(j)
        return None

    # The demo needs a grade 5-9 pupil with both parents and a sibling in another class;
    # making that family first guarantees it for every seed.
    demo = next((j for j in range(len(seats) - 1, -1, -1) if 5 <= grid[seats[j]][0] <= 9), None)
    first_family = True
    while seats:
        if first_family and demo is not None:
            first = seats.pop(demo)
            shape, second = "parents", sibling_seat(first)
        else:
            first = seats.pop()
            roll = rng.random()
            shape = "parents" if roll < TWO_PARENTS else "mother" if roll < TWO_PARENTS + MOTHER_ONLY else "grandmother"
            second = sibling_seat(first) if rng.random() < SIBLING_SHARE else None
        first_family = False
        family, children = _family(rng, data, shape, [first] if second is None else [first, second], taken_names)
        adults.extend(family)
        kids.extend(children)

    def register_key(kid: _Kid) -> tuple:
        # Class registers sort ё with е.
        return (kid.cls, *(part.replace("ё", "е").replace("Ё", "Е") for part in kid.name), kid.name)

    kids.sort(key=register_key)
    return kids, adults


def _family(
    rng: random.Random, data: _Data, shape: str, seats: list[int], taken_names: dict[int, set[tuple[str, str, str]]]
) -> tuple[list[_Adult], list[_Kid]]:
    """One family of ``shape`` "parents", "mother" or "grandmother" with a child in each of ``seats``.

    Returns the guardians and the children.
    """
    surname = rng.choice(data.surnames)
    father_given = rng.choice(data.generations["parents"][MALE])
    adults: list[_Adult] = []
    mother = _Adult(MOTHER, FEMALE, _adult_name(rng, data, FEMALE, surname))
    father = _Adult(FATHER, MALE, _adult_name(rng, data, MALE, surname, given=father_given))
    if shape in ("parents", "mother"):
        adults.append(mother)
    if shape == "parents":
        adults.append(father)
    if shape == "grandmother":
        # The mother's mother: her own family name, not the pupil's.
        other = rng.choice([s for s in data.surnames if s != surname])
        adults.append(_Adult(GRANDMOTHER, FEMALE, _adult_name(rng, data, FEMALE, other, "grandparents")))
    given_taken: set[str] = set()
    kids: list[_Kid] = []
    for seat in seats:
        sex = MALE if rng.random() < 0.5 else FEMALE
        family_name = surname if sex == MALE else feminine_surname(surname)
        middle = data.patronymics[father_given][0 if sex == MALE else 1]
        used = taken_names.setdefault(seat, set())
        names = list(data.generations["children"][sex])
        rng.shuffle(names)
        # Siblings have different names, and no two pupils of a class share a full name.
        given = next((g for g in names if g not in given_taken and (family_name, g, middle) not in used), None)
        if given is None:
            pool = data.patronymics if sex == MALE else data.female_names
            given = next((g for g in pool if g not in given_taken and (family_name, g, middle) not in used), None)
        if given is None:
            raise ValueError("ran out of names for a class; make the classes smaller")
        given_taken.add(given)
        used.add((family_name, given, middle))
        kid = _Kid(seat, sex, (family_name, given, middle), guardians=list(adults))
        kids.append(kid)
        for adult in adults:
            adult.kids.append(kid)
    return adults, kids


# -- OneRoster 1.2 CSV ----------------------------------------------------------------

# Headers exactly as the OneRoster 1.2 CSV binding spells them, in its column order.
HEADERS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,"
    "subjects,subjectCodes",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
    "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
    "identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,"
    "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns",
    "roles.csv": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
    "beginDate,endDate",
}

# Every file.* property of the 1.2 manifest, in the binding's order.
MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources", "demographics",
    "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "orgs", "resources",
    "resultLearningObjectiveIds", "results", "resultScoreScales", "roles", "scoreScales", "userProfiles",
    "userResources", "users",
)  # fmt: skip

# The role words of OneRoster 1.2 (RoleEnum) for the guardian relations.
GUARDIAN_ROLES = {MOTHER: "parent", FATHER: "parent", GRANDMOTHER: "guardian"}


def write_oneroster(school: GeneratedSchool, folder: pathlib.Path) -> list[pathlib.Path]:
    """Write ``school`` as a OneRoster 1.2 CSV bulk roster into ``folder`` (created if missing).

    Files, in the returned order: manifest.csv, orgs.csv, academicSessions.csv,
    courses.csv, classes.csv, users.csv, roles.csv, enrollments.csv (the manifest lists
    them as ``bulk`` and every other 1.2 file as ``absent``). UTF-8 without a BOM, "\\n"
    line ends, blank ``status``/``dateLastModified`` (bulk). Users carry no username,
    e-mail or phone; pupils' ``agentSourcedIds`` name their guardians and guardians' name
    their children. Enrollments: teachers of each class (``primary`` true only for the
    class teacher), then its pupils; guardians are not enrolled. Existing files of those
    names are overwritten; other files in ``folder`` are left alone.

    Returns the paths written. Raises OSError if the folder or a file cannot be written.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "orgs.csv": [[ORG_ID, "", "", ORG_NAME, "school", "", ""]],
        "academicSessions.csv": [[YEAR_ID, "", "", YEAR_TITLE, "schoolYear", YEAR_START, YEAR_END, "", YEAR_NUMBER]],
        "courses.csv": _course_rows(school),
        "classes.csv": _class_rows(school),
        "users.csv": _user_rows(school),
        "roles.csv": _role_rows(school),
        "enrollments.csv": _enrollment_rows(school),
    }
    manifest = [["manifest.version", "1.0"], ["oneroster.version", "1.2"]]
    written = {name[: -len(".csv")] for name in tables}
    manifest += [[f"file.{f}", "bulk" if f in written else "absent"] for f in MANIFEST_FILES]
    manifest += [["source.systemName", "Parta school generator"]]

    paths = [write_csv(folder / "manifest.csv", "propertyName,value", manifest)]
    for name, rows in tables.items():
        paths.append(write_csv(folder / name, HEADERS[name], rows))
    return paths


def _course_id(grade: int) -> str:
    return f"course-{grade:02d}"


def _course_rows(school: GeneratedSchool) -> list[list[str]]:
    grades = sorted({c.grade for c in school.classes})
    return [[_course_id(g), "", "", YEAR_ID, f"{g} класс", str(g), f"{g:02d}", ORG_ID, "", ""] for g in grades]


def _class_rows(school: GeneratedSchool) -> list[list[str]]:
    # classCode repeats the title: it is what the school calls the class.
    return [
        [c.source_id, "", "", c.title, c.grade_code, _course_id(c.grade), c.title, "homeroom", "", ORG_ID, YEAR_ID,
         "", "", ""]
        for c in school.classes
    ]  # fmt: skip


def _user_rows(school: GeneratedSchool) -> list[list[str]]:
    classes = school.class_by_id()

    def row(person: _Person, agents: tuple[str, ...] = (), grades: str = "") -> list[str]:
        return [
            person.source_id, "", "", "true", "", "", person.given_name, person.family_name, person.middle_name,
            "", "", "", "", ",".join(agents), grades, "", "", "", "", "", "", ORG_ID, "",
        ]  # fmt: skip

    rows = [row(t) for t in school.teachers]
    rows += [row(p, p.guardian_ids, classes[p.class_id].grade_code) for p in school.pupils]
    rows += [row(g, g.child_ids) for g in school.guardians]
    return rows


def _role_rows(school: GeneratedSchool) -> list[list[str]]:
    people: list[tuple[str, str]] = [(t.source_id, "teacher") for t in school.teachers]
    people += [(p.source_id, "student") for p in school.pupils]
    people += [(g.source_id, GUARDIAN_ROLES[g.relation]) for g in school.guardians]
    return [[f"role-{user_id}", "", "", user_id, "primary", role, "", "", ORG_ID, ""] for user_id, role in people]


def _enrollment_rows(school: GeneratedSchool) -> list[list[str]]:
    teachers_of: dict[str, list[str]] = {c.source_id: [] for c in school.classes}
    for t in school.teachers:
        for class_id in t.class_ids:
            teachers_of[class_id].append(t.source_id)
    pupils_of: dict[str, list[str]] = {c.source_id: [] for c in school.classes}
    for p in school.pupils:
        pupils_of[p.class_id].append(p.source_id)
    rows: list[list[str]] = []
    for c in school.classes:
        # The class teacher first, then the others by id: the register's order.
        teachers = sorted(teachers_of[c.source_id], key=lambda t: (t != c.homeroom_teacher_id, t))
        members = [(t, "teacher", "true" if t == c.homeroom_teacher_id else "false") for t in teachers]
        members += [(p, "student", "false") for p in pupils_of[c.source_id]]
        for user_id, role, primary in members:
            rows.append(
                [f"enr-{len(rows) + 1:05d}", "", "", c.source_id, ORG_ID, user_id, role, primary, YEAR_START, YEAR_END]
            )
    return rows
