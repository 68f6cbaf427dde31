"""Paper: a ZIP of 1,000 attachments in flat memory, and the 決裁用 PDF of a 50-field case (goal <= 1 s).

1. ZIP (measured first, before the PDFs' font tables raise the process's RSS): attachments_zip over
   10 and over --files attachments (--size random bytes each, stored as JPEG is), every byte read
   through; tracemalloc's peak of Python allocations and the process's peak RSS growth for each.
2. PDF: a case of a 50-field form (the types in turn, texts of a few lines, a resident named
   𠮷田 﨑子) rendered by submissions.paper.case_pdf --runs times: the clock's first, median and max,
   and the median CPU time of this process beside them (on a shared machine the clock includes the
   time other work held the CPU). Each run reads the font anew: fpdf2 subsets it in place. First with
   the whole font, then with the prepared font (paper.prepare_font, timed once), the one PDFs use.

Made through the services on its own SQLite database in a temporary folder (files in a temporary
MEDIA_ROOT), removed at the end.

    make bench-paper                  # = .venv/bin/python bench/paper.py
    .venv/bin/python bench/paper.py --runs 10 --files 1000 --size 100000
"""

import argparse
import os
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TYPES = ["short_text", "long_text", "name", "address", "date", "single_choice", "phone", "number", "email"]
ANSWERS = {
    "short_text": "鳥取県鳥取市東町一丁目２２０番地",
    "long_text": "申請の理由を書きます。\n2行目です。髙橋 﨑子 𠮷田のことも書きます。" * 3,
    "name": {"family": "𠮷田", "given": "﨑子"},
    "address": {"postal_code": "680-8571", "address": "鳥取県鳥取市尚徳町１１６"},
    "date": "1950-04-01",
    "single_choice": "はい",
    "phone": "0857-20-3111",
    "number": "3",
    "email": "yoshida@example.jp",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fields", type=int, default=50)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100_000, help="bytes per attachment")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="madoguchi-bench-paper-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            "MADOGUCHI_INSECURE_DEV_KEY": "1",
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(work / "media"),
            "STATIC_MANIFEST": "false",
        }
    )
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> None:
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    from madoguchi.organizations.models import Department, Organization
    from madoguchi.procedures.models import Procedure
    from madoguchi.procedures.services import save_form_version, set_procedure_status
    from madoguchi.submissions import paper, services
    from madoguchi.submissions.models import Attachment, Submission

    call_command("migrate", verbosity=0)
    pref = Organization.objects.create(
        code="310000", kind="prefecture", name="鳥取県", name_kana="トットリケン"
    )
    org = Organization.objects.create(
        code="312011", kind="municipality", name="鳥取市", name_kana="トットリシ", prefecture=pref
    )
    department = Department.objects.create(organization=org, name="市民課")
    fields = []
    answers = {}
    for i in range(args.fields):
        kind = TYPES[i % len(TYPES)]
        field = {"key": f"f{i + 1}", "type": kind, "label": f"質問{i + 1}（{kind}）"}
        if kind == "single_choice":
            field["options"] = ["はい", "いいえ"]
        fields.append(field)
        answers[field["key"]] = ANSWERS[kind]
    fields.append({"key": "doc", "type": "file", "label": "添付書類", "allowed_types": ["pdf", "jpg", "png"]})
    procedure = Procedure.objects.create(
        organization=org, department=department, title="ベンチ用の申請", kind="application"
    )
    save_form_version(procedure=procedure, schema={"fields": fields})
    set_procedure_status(procedure=procedure, status=Procedure.Status.PUBLISHED)
    procedure.refresh_from_db()

    def submit(answer_set):
        return services.submit(
            procedure=procedure,
            version=procedure.current_version,
            answers=answer_set,
            staged_files={},
            token=secrets.token_hex(8),
        ).submission

    case = Submission.objects.select_related("procedure__department", "organization", "form_version").get(
        pk=submit(answers).pk
    )
    # Attachments: one file of --size random bytes stored once per attachment row (each its own file).
    payload = os.urandom(args.size)
    holders = [submit({"f1": "添付のみ"}) for _ in range(max(1, args.files // 10))]
    rows = []
    for i in range(args.files):
        holder = holders[i % len(holders)]
        key = secrets.token_hex(16)
        name = default_storage.save(f"uploads/{org.pk}/{key}", ContentFile(payload))
        rows.append(
            Attachment(
                organization=org,
                submission=holder,
                field_key="doc",
                storage_key=key,
                file=name,
                original_name="写真.jpg",
                content_type="image/jpeg",
                size=args.size,
            )
        )
    Attachment.objects.bulk_create(rows, batch_size=500)

    def measure(submissions, label):
        tracemalloc.start()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall = time.perf_counter()
        total = 0
        for chunk in paper.attachments_zip(submissions):
            total += len(chunk)
        elapsed = time.perf_counter() - wall
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        print(f"  {label}: {total / 1e6:,.1f} MB in {elapsed:.2f} s ({total / 1e6 / elapsed:,.0f} MB/s); "
              f"tracemalloc peak {peak / 1024:,.0f} KiB; peak RSS growth {rss_growth:,} KiB")  # fmt: skip

    print(f"ZIP of attachments ({args.size:,} bytes each, stored):")
    few = Submission.objects.filter(pk__in=[h.pk for h in holders[:1]])
    measure(few, f"{Attachment.objects.filter(submission__in=few).count():>5} attachments")
    measure(Submission.objects.filter(pk__in=[h.pk for h in holders]), f"{args.files:>5} attachments")
    choice = paper.find_font()
    paper._prepare_in_background = lambda choice: None  # measured apart below, not behind the runs
    prepared = paper.prepared_font_path(choice)
    prepared.unlink(missing_ok=True)

    def pdf_runs(label):
        walls, cpus, size = [], [], 0
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            body = paper.case_pdf(case, printed_by="bench")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            size = len(body)
        print(f"  {label}: first {walls[0] * 1000:.0f} ms; median {statistics.median(walls) * 1000:.0f} ms clock, "
              f"{statistics.median(cpus) * 1000:.0f} ms CPU; max {max(walls) * 1000:.0f} ms; {size:,} bytes")  # fmt: skip

    print(f"PDF of a {args.fields}-field case ({choice.path.name}, {choice.path.stat().st_size:,} bytes), "
          f"{args.runs} runs:")  # fmt: skip
    pdf_runs("whole font")
    wall, cpu = time.perf_counter(), time.process_time()
    paper.prepare_font(choice)
    print(f"  preparing the font (once per machine): {time.perf_counter() - wall:.1f} s clock, "
          f"{time.process_time() - cpu:.1f} s CPU; {prepared.stat().st_size:,} bytes")  # fmt: skip
    pdf_runs("prepared font")
    receipt_wall = time.perf_counter()
    paper.receipt_pdf(case)
    print(f"  the resident's 控え of the same case: {(time.perf_counter() - receipt_wall) * 1000:.0f} ms")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
