"""Demo data: 鳥取県 and its 19 municipalities in one council, staff of each role, three procedures, and the
council's template library.

Idempotent: running it again changes nothing that is already there.
"""

import random
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.accounts.models import CouncilRole, Membership, Role
from madoguchi.lib.japanese import fiscal_year
from madoguchi.organizations.models import Council, CouncilMembership, Department, Organization
from madoguchi.organizations.services import import_organizations
from madoguchi.procedures.library import load_library
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import save_form_version, set_procedure_status
from madoguchi.stats.cost_share import Weights
from madoguchi.stats.models import CostShare, WorkingGroup, WorkingGroupMembership
from madoguchi.stats.services import save_cost_share

INSECURE_DEVELOPMENT_KEY = "insecure-development-key-do-not-use-in-production"
DEMO_PASSWORD = "madoguchi-demo-2026"  # noqa: S105 -- demo logins are printed by `make run`
# The demo admins' authenticator-app key (2段階認証): printed with the logins; `make demo-code` shows the
# current code. Known to all, so for the demo only.
DEMO_TOTP_KEY = b"madoguchi-demo-2026!".hex()
COUNCIL_NAME = "鳥取県自治体ICT共同化推進協議会"
# 令和2年国勢調査の人口（概数）: used for the cost share by population.
POPULATION = {
    "310000": 553407, "312011": 188465, "312029": 147317, "312037": 46310, "312045": 32740,
    "313025": 10911, "313254": 3017, "313289": 6431, "313297": 16297, "313645": 6040,
    "313700": 16290, "313718": 16430, "313726": 14397, "313840": 3518, "313866": 15495,
    "313891": 10500, "313904": 10437, "314013": 4261, "314021": 2966, "314030": 2810,
}  # fmt: skip
USERS = [
    # username, organization code, role, what the login is for
    ("tottori-admin", "312011", Role.ADMIN, "鳥取市 管理者"),
    ("tottori-staff", "312011", Role.PROCESSOR, "鳥取市 処理担当者"),
    ("tottori-viewer", "312011", Role.VIEWER, "鳥取市 閲覧者"),
    ("tottori-editor", "312011", Role.EDITOR, "鳥取市 編集者：フォームを作って公開する"),
    ("wakasa-editor", "313254", Role.EDITOR, "若桜町 編集者：まだ手続のない町。ひな形から作る"),
    ("yonago-staff", "312029", Role.PROCESSOR, "米子市 処理担当者"),
    ("pref-admin", "310000", Role.ADMIN, "鳥取県 管理者"),
]

NAME = {"key": "name", "type": "name", "label": "氏名", "required": True}
FURIGANA = {"key": "furigana", "type": "furigana", "label": "ふりがな", "required": True, "script": "hiragana", "full_name": True,
            "help": "姓と名の間に空白を入れてください（例：とっとり たろう）"}  # fmt: skip
EMAIL = {"key": "email", "type": "email", "label": "メールアドレス", "required": True,
         "help": "受付のお知らせを送ります。"}  # fmt: skip
PHONE = {"key": "phone", "type": "phone", "label": "電話番号", "required": True,
         "help": "日中に連絡のとれる番号（例：0857-26-7111）"}  # fmt: skip

RESIDENT_CERTIFICATE = {
    "email_field": "email",
    "fields": [
        {"key": "intro", "type": "heading", "label": "請求する人",
         "text": "本人または同じ世帯の方が請求できます。"},
        NAME, FURIGANA,
        {"key": "birth_date", "type": "date", "label": "生年月日", "required": True, "past_only": True,
         "help": "和暦でも入力できます（例：昭和35年4月1日）"},
        {"key": "address", "type": "address", "label": "住所", "required": True},
        PHONE, EMAIL,
        {"key": "copies", "type": "number", "label": "必要な通数", "required": True,
         "min_value": "1", "max_value": "10", "whole_number": True, "unit": "通"},
        {"key": "use", "type": "dropdown", "label": "使いみち", "required": True,
         "options": ["年金の手続", "就職", "自動車の登録", "その他"]},
        {"key": "include", "type": "multiple_choice", "label": "記載する事項",
         "options": ["世帯主の氏名と続柄", "本籍・筆頭者"]},
        {"key": "id_document", "type": "file", "label": "本人確認書類の写し", "required": True,
         "help": "運転免許証などの写真。マイナンバーカードは裏面を写さないでください。",
         "allowed_types": ["jpg", "png", "pdf"], "max_size_mb": 10},
        {"key": "note", "type": "long_text", "label": "連絡事項", "max_length": 500},
        {"key": "agree", "type": "consent", "label": "記載内容に誤りがないことを確認しました", "required": True},
    ],
}  # fmt: skip

SURVEY = {
    "fields": [
        {"key": "satisfaction", "type": "single_choice", "label": "電子申請サービスの使いやすさ", "required": True,
         "options": ["使いやすい", "どちらかといえば使いやすい", "どちらかといえば使いにくい", "使いにくい"]},
        {"key": "age", "type": "dropdown", "label": "年代",
         "options": ["10代", "20代", "30代", "40代", "50代", "60代", "70代以上"]},
        {"key": "device", "type": "multiple_choice", "label": "使った機器",
         "options": ["スマートフォン", "パソコン", "タブレット"]},
        {"key": "municipality", "type": "short_text", "label": "お住まいの市町村", "max_length": 20},
        {"key": "comment", "type": "long_text", "label": "ご意見・ご要望", "max_length": 2000},
    ],
}  # fmt: skip

SMARTPHONE_CLASS = {
    "email_field": "email",
    "fields": [
        NAME, FURIGANA, PHONE, EMAIL,
        {"key": "session", "type": "single_choice", "label": "希望する回", "required": True,
         "options": ["12月10日（木）午前", "12月10日（木）午後"]},
        {"key": "own_phone", "type": "single_choice", "label": "スマートフォンをお持ちですか", "required": True,
         "options": ["持っている", "持っていない（貸出を希望）"]},
        {"key": "agree", "type": "consent", "label": "参加にあたっての注意事項に同意します", "required": True,
         "help": "当日は本人確認のため、受付番号をお伝えください。"},
    ],
}  # fmt: skip


# The residents' search of the demo council (procedures/finding.py: one rule a line).
DEMO_SYNONYMS = "スマホ → スマートフォン\n転入 = 引越し = 転居\nマイナンバーカード、個人番号カード"


class Command(BaseCommand):
    help = "デモ用のデータ（鳥取県と19市町村、協議会、職員、手続）を登録します。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--on-a-server",
            action="store_true",
            help="SECRET_KEY を設定したサーバー（検証環境など）でもデモデータを登録する",
        )

    @transaction.atomic
    def handle(self, *args, on_a_server=False, **options):
        from django.conf import settings
        from django.core.management.base import CommandError

        if settings.SECRET_KEY != INSECURE_DEVELOPMENT_KEY and not on_a_server:
            # The demo's logins (an operator among them) share a published password and second-factor key:
            # never on a production database by mistake.
            raise CommandError(
                "SECRET_KEY が設定されたサーバーです。デモ用のログイン（公開されたパスワード）を作らないよう、"
                "止めました。検証環境で本当に登録するときは --on-a-server を付けてください。"
            )
        import_organizations(prefecture="鳥取県")
        for code, population in POPULATION.items():
            Organization.objects.filter(code=code).update(population=population)
        pref = Organization.objects.get(code="310000")
        tottori = Organization.objects.get(code="312011")
        council, _ = Council.objects.get_or_create(
            name=COUNCIL_NAME, defaults={"secretariat": pref, "search_synonyms": DEMO_SYNONYMS}
        )
        for member in Organization.objects.filter(code__startswith="31"):
            CouncilMembership.objects.get_or_create(council=council, organization=member)
        info_policy, _ = Department.objects.get_or_create(
            organization=pref, name="総務部 情報政策課", defaults={"phone": "0857-26-7111"}
        )
        citizens, _ = Department.objects.get_or_create(
            organization=tottori, name="市民生活部 市民課", defaults={"phone": "0857-20-3111"}
        )
        lifelong, _ = Department.objects.get_or_create(
            organization=tottori, name="教育委員会 生涯学習・スポーツ課", defaults={"phone": "0857-20-3111"}
        )
        self._users(council)
        now = timezone.now()
        purpose = "申請内容の審査と、申請者への連絡のために利用します。法令に基づく場合を除き、目的外には利用しません。"
        self._procedure(
            tottori, citizens, "住民票の写しの郵送請求", Procedure.Kind.APPLICATION, RESIDENT_CERTIFICATE,
            summary="住民票の写しを郵送で請求できます。手数料は1通300円で、定額小為替を後日郵送してください。",
            purpose=purpose, retention_years=Procedure.Retention.FIVE,
            category="shomeisho", life_events=["moving"], title_reading="じゅうみんひょうのうつしのゆうそうせいきゅう",
        )  # fmt: skip
        survey = self._procedure(
            pref, info_policy, "電子申請サービス利用者アンケート", Procedure.Kind.SURVEY, SURVEY,
            summary="電子申請サービスの改善のため、ご意見をお聞かせください（3分ほど）。",
            purpose="集計してサービスの改善に使います。個人を特定する情報はお聞きしません。",
            retention_years=Procedure.Retention.ONE, category="survey",
        )  # fmt: skip
        self._survey_answers(survey)
        self._procedure(
            tottori, lifelong, "シニア向けスマートフォン教室 参加申込", Procedure.Kind.SIGNUP, SMARTPHONE_CLASS,
            summary="はじめての方向けに、スマートフォンの使い方を学ぶ教室です。定員になり次第締め切ります。",
            purpose=purpose, retention_years=Procedure.Retention.ONE, capacity=20,
            closes_at=now + timedelta(days=365), category="event", life_events=["learning"],
        )  # fmt: skip
        load_library(council=council)
        call_command("load_indicators", council.name, with_counted=True, verbosity=0)  # 指標
        self._working_group(council)
        self.stdout.write(self.style.SUCCESS("デモデータを登録しました。"))
        self.stdout.write(f"デモ用ログイン（パスワードはすべて {DEMO_PASSWORD}）:")
        for username, label in demo_logins():
            mark = " ＊" if username in two_factor_demo_logins() else ""
            self.stdout.write(f"  {username:<16} {label}{mark}")
        self.stdout.write(
            "＊ 管理者は2段階認証あり: パスワードの後に確認コードを聞かれたら、別のターミナルで"
            " `make demo-code` を実行して表示された6桁を入力します"
            f"（認証アプリに登録するなら鍵 {demo_totp_secret()}）。"
        )

    def _users(self, council: Council) -> None:
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        for username, code, role, _label in USERS:
            # An address of the reserved example domain, so 「パスワードを忘れた方」 can be tried (the mail
            # appears in make run's console).
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.jp"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            Membership.objects.get_or_create(
                user=user, organization=Organization.objects.get(code=code), defaults={"role": role}
            )
        for username in two_factor_demo_logins():
            user = User.objects.get(username=username)
            if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(
                    user=user, name="認証アプリ（デモ）", key=DEMO_TOTP_KEY, confirmed=True
                )
        secretariat, created = User.objects.get_or_create(username="council")
        if created:
            secretariat.set_password(DEMO_PASSWORD)
            secretariat.save()
        CouncilRole.objects.get_or_create(user=secretariat, council=council)

    def _working_group(self, council: Council) -> None:
        """電子申請部会: 米子市, 境港市, 伯耆町, 日南町, 日野町 and 江府町 joined a year after the others."""
        group, _ = WorkingGroup.objects.get_or_create(council=council, name="電子申請部会")
        late = {"312029", "312045", "313904", "314013", "314021", "314030"}
        for member in council.members.all():
            WorkingGroupMembership.objects.get_or_create(
                working_group=group,
                organization=member,
                defaults={"joined_on": date(2021, 4, 1) if member.code in late else None},
            )
        year = fiscal_year(timezone.now())
        if not CostShare.objects.filter(working_group=group, fiscal_year=year).exists():
            save_cost_share(
                working_group=group,
                fiscal_year=year,
                cost=30_000_000,
                weights=Weights(equal=10, population=40, usage=50),
                actor=None,
            )

    def _survey_answers(self, survey: Procedure, count: int = 36) -> None:
        """A few dozen answers to the survey, the same on every run, so its 集計 shows something. Submitted
        through the real service (counts and history as for a resident); a run that finds any answer
        adds none."""
        from madoguchi.submissions import services as submissions

        if survey.submissions.exists():
            return
        survey.refresh_from_db()
        pick = random.Random(2026)  # demo data: the same on every run
        satisfaction = SURVEY["fields"][0]["options"]
        ages = SURVEY["fields"][1]["options"]
        comments = [
            "スマートフォンから簡単に申請できて助かりました。",
            "入力途中で保存できるとよいと思います。",
            "文字がもう少し大きいと読みやすいです。",
            "窓口に行かずに済み、仕事を休まずに手続ができました。",
            "添付する書類の説明がわかりにくかったです。",
        ]
        towns = ["鳥取市", "米子市", "倉吉市", "境港市", "岩美町", "智頭町", "琴浦町", "大山町"]
        for number in range(count):
            answers = {"satisfaction": pick.choices(satisfaction, weights=[5, 4, 2, 1])[0]}
            if pick.random() < 0.85:
                answers["age"] = pick.choices(ages, weights=[1, 3, 4, 4, 4, 3, 2])[0]
            devices = [d for d, p in (("スマートフォン", 0.75), ("パソコン", 0.4), ("タブレット", 0.15))
                       if pick.random() < p]  # fmt: skip
            if devices:
                answers["device"] = devices
            if pick.random() < 0.6:
                answers["municipality"] = pick.choice(towns)
            if pick.random() < 0.35:
                answers["comment"] = pick.choice(comments)
            submissions.submit(
                procedure=survey,
                version=survey.current_version,
                answers=answers,
                staged_files={},
                token=f"demo-survey-{number:03d}",
            )

    def _procedure(self, organization, department, title, kind, schema, **fields) -> Procedure:
        procedure, created = Procedure.objects.get_or_create(
            organization=organization,
            title=title,
            defaults={"department": department, "kind": kind, **fields},
        )
        if created:
            save_form_version(procedure=procedure, schema=schema)
            set_procedure_status(procedure=procedure, status=Procedure.Status.PUBLISHED)
        return procedure


def two_factor_demo_logins() -> list[str]:
    """The demo logins that must pass a second factor (admins and the operator: accounts/two_factor.py)."""
    return ["admin", *(u for u, _c, role, _label in USERS if role == Role.ADMIN)]


def demo_totp_secret() -> str:
    """DEMO_TOTP_KEY as an authenticator app takes it when typed (base32)."""
    import base64

    return base64.b32encode(bytes.fromhex(DEMO_TOTP_KEY)).decode().rstrip("=")


def demo_logins() -> list[tuple[str, str]]:
    return [
        ("admin", "運用管理者（Django管理画面）"),
        *((u, label) for u, _c, _r, label in USERS),
        ("council", "協議会事務局"),
    ]
