from django.db import models
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    """A prefecture or municipality: the tenant. Policy that differs per organization lives here as data."""

    class Kind(models.TextChoices):
        PREFECTURE = "prefecture", "都道府県"
        MUNICIPALITY = "municipality", "市区町村"

    code = models.CharField("団体コード", max_length=6, unique=True)
    kind = models.CharField("種別", max_length=16, choices=Kind.choices)
    name = models.CharField("名称", max_length=64)
    name_kana = models.CharField("名称（カナ）", max_length=128, blank=True)
    prefecture = models.ForeignKey(
        "self",
        verbose_name="都道府県",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="municipalities",
    )
    population = models.PositiveIntegerField("人口", null=True, blank=True)
    contact_email = models.EmailField("問い合わせ先メール", blank=True)
    contact_phone = models.CharField("問い合わせ先電話", max_length=32, blank=True)
    is_active = models.BooleanField("利用中", default=True)
    # The footer of its residents' pages: its own 利用規約, 個人情報の取扱い, アクセシビリティ方針 and
    # お問い合わせ pages (https:// addresses); blank ones fall back to this system's own pages.
    terms_url = models.CharField("利用規約のページ", max_length=300, blank=True)
    privacy_url = models.CharField("個人情報の取扱いのページ", max_length=300, blank=True)
    accessibility_url = models.CharField("アクセシビリティ方針のページ", max_length=300, blank=True)
    contact_url = models.CharField("お問い合わせのページ", max_length=300, blank=True)
    # 2段階認証: admins always need it; this asks it of every member (accounts/two_factor.py)
    two_factor_required = models.BooleanField("職員全員に2段階認証を求める", default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "団体"

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        if self.kind == self.Kind.MUNICIPALITY and self.prefecture_id:
            return f"{self.prefecture.name} {self.name}"
        return self.name


class Department(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField("所属名", max_length=128)
    phone = models.CharField("電話番号", max_length=32, blank=True)
    email = models.EmailField("メールアドレス", blank=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="department_unique_name")
        ]
        verbose_name = verbose_name_plural = "所属"

    def __str__(self) -> str:
        return self.name


class OpenDataLicense(models.TextChoices):
    """The licence of a council's open data (stats/opendata.py). Keys are SPDX identifiers where one exists.

    公共データ利用規約（第1.0版） is the Japanese government's standard terms (デジタル庁, 2024), compatible with
    CC BY 4.0."""

    CC_BY_4_0 = "CC-BY-4.0", _("クリエイティブ・コモンズ 表示 4.0 国際（CC BY 4.0）")
    CC0_1_0 = "CC0-1.0", _("CC0 1.0 全世界 パブリック・ドメイン提供（CC0）")
    PDL_1_0 = "PDL-1.0", _("公共データ利用規約（第1.0版）（PDL1.0）")


OPEN_DATA_LICENSE_URLS = {
    OpenDataLicense.CC_BY_4_0: "https://creativecommons.org/licenses/by/4.0/",
    OpenDataLicense.CC0_1_0: "https://creativecommons.org/publicdomain/zero/1.0/",
    OpenDataLicense.PDL_1_0: "https://www.digital.go.jp/resources/open_data/public_data_license_v1.0",
}


class Council(models.Model):
    """協議会: the body of member organizations that runs the shared system; its secretariat is one member."""

    name = models.CharField("名称", max_length=128, unique=True)
    secretariat = models.ForeignKey(
        Organization, verbose_name="事務局", on_delete=models.PROTECT, related_name="secretariat_of"
    )
    # The licence of the counts it publishes as open data (/opendata/<id>/); set through
    # stats.opendata.set_open_data_license, audited.
    open_data_license = models.CharField(
        "オープンデータのライセンス",
        max_length=16,
        choices=OpenDataLicense.choices,
        default=OpenDataLicense.CC_BY_4_0,
    )
    # The residents' search: one line a rule, 「スマホ → スマートフォン」 (a word typed → a word searched for
    # too); edited by the secretariat (procedures/finding.py reads it).
    search_synonyms = models.TextField("検索の同義語", blank=True, default="")
    members = models.ManyToManyField(Organization, through="CouncilMembership", related_name="councils")
    # When a member last joined or left (UTC; set on every CouncilMembership saved or deleted): the open
    # data's counts are its members' now, so their files change then too (stats/opendata.py).
    members_changed_at = models.DateTimeField("加入団体の最終変更", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = verbose_name_plural = "協議会"

    def __str__(self) -> str:
        return self.name


class CouncilMembership(models.Model):
    council = models.ForeignKey(Council, on_delete=models.CASCADE, verbose_name="協議会")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, verbose_name="団体")
    joined_on = models.DateField("加入日", null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["council", "organization"], name="council_membership_unique")
        ]
        verbose_name = verbose_name_plural = "協議会加入団体"

    def __str__(self) -> str:
        # The operator's admin lists a council's members by this (its inline reads them with their
        # organization: one query, not one per member).
        return f"{self.organization.code} {self.organization.name}"


class DataKey(models.Model):
    """An organization's data keysets (lib/envelope.py), or the site's (scope "site", for sessions): Tink
    keysets for answers (AEAD) and files (streaming AEAD), each stored only wrapped by the master keyset from
    the environment. Written only by lib/envelope.py and `manage.py rotate_keys`."""

    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.CharField(max_length=20, unique=True)  # the organization's id, or "site"
    aead_keyset = models.TextField()
    streaming_keyset = models.TextField()
    master_key_id = models.BigIntegerField()  # the master key that wraps them (rotate_keys --rewrap)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "データ鍵"
