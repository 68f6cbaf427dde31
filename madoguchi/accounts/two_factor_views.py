"""2段階認証 pages: the code asked after the password, the member's own set-up page, an admin's reset of a
colleague's second factor and an organization's policy. The rules are in accounts/two_factor.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from madoguchi.accounts import access, passkeys, reauth, two_factor
from madoguchi.audit.services import record
from madoguchi.lib.params import parse_id

MAX_CODE = 64  # characters of a typed code looked at; longer is refused as wrong


def next_page(request: HttpRequest) -> str:
    """Where to go after the code: a page of this site named by `next`, else the staff home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("staff:home")


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """「確認コードの入力」: after the password, the 6-digit code of the authenticator app or a recovery code."""
    if request.user.is_verified() or not two_factor.is_enabled(request.user):
        return redirect(next_page(request))
    context = {"next": next_page(request), "passkey": passkeys.has_passkey(request.user)}
    if request.method != "POST":
        return render(request, "staff/two_factor/verify.html", context)
    raw = request.POST.get("code", "")
    if not two_factor.normalise_code(raw) or len(raw) > MAX_CODE:
        context["error"] = gettext("確認コードを入力してください。")
        return render(request, "staff/two_factor/verify.html", context, status=400)
    result = two_factor.verify(request, raw)
    if result.ok:
        if result.recovery:
            messages.warning(
                request,
                ngettext(
                    "回復コードでログインしました。使った回復コードはもう使えません（残り%(count)s個）。",
                    "回復コードでログインしました。使った回復コードはもう使えません（残り%(count)s個）。",
                    result.left,
                )
                % {"count": result.left},
            )
        return redirect(context["next"])
    if result.wait_seconds:
        context["error"] = ngettext(
            "確認コードを間違えたため、%(seconds)s秒たってからもう一度入力してください。",
            "確認コードを間違えたため、%(seconds)s秒たってからもう一度入力してください。",
            result.wait_seconds,
        ) % {"seconds": result.wait_seconds}
        return render(request, "staff/two_factor/verify.html", context, status=429)
    context["error"] = two_factor.wrong_code_message(result)
    return render(request, "staff/two_factor/verify.html", context, status=400)


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """「2段階認証」: set up an authenticator app (QR code or typed key, confirmed by a code), see how many
    recovery codes remain, make new ones, or turn it off when nothing requires it."""
    user = request.user
    enabled = two_factor.is_enabled(user)
    if enabled and not user.is_verified():
        # A second factor exists but this login has not shown it: the code first.
        return redirect(reverse("staff:two_factor_verify") + "?" + urlencode({"next": request.path}))
    context = {
        "enabled": enabled,
        "has_app": two_factor.has_app(user),
        "passkeys": passkeys.credentials_of(user) if enabled else [],
        "required": two_factor.is_required(user),
        "left": two_factor.recovery_codes_left(user) if enabled else 0,
        "next": next_page(request) if request.GET.get("next") or request.POST.get("next") else "",
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    status = 200
    # Changing a second factor one has (new codes, another phone, off) asks for the password again first.
    if (
        enabled
        and action in ("start", "recovery_codes", "off", "passkey_add", "passkey_remove")
        and (confirm := reauth.check(request))
    ):
        return confirm
    if action == "passkey_add" and context["has_app"]:
        # 本人確認 is fresh: the page now offers the button that asks the browser for a passkey (JavaScript;
        # without it, or without passkeys in the browser, the page says so and the app's code stays).
        context["adding_passkey"] = True
    elif action == "passkey_remove" and enabled:
        if passkeys.remove(request, parse_id(request.POST.get("credential", ""))):
            messages.success(request, gettext("パスキーを削除しました。"))
            return redirect("staff:two_factor")
        raise Http404
    if action == "start":
        two_factor.start_totp(user)
        return redirect(reverse("staff:two_factor") + _keep_next(context["next"]))
    if action == "confirm":
        device = two_factor.pending_totp(user)
        raw = request.POST.get("code", "")
        codes = None
        if device is not None and len(raw) <= MAX_CODE and two_factor.normalise_code(raw):
            codes = two_factor.confirm_totp(request, device, raw)
        if codes is not None:
            return render(
                request, "staff/two_factor/recovery_codes.html", {"codes": codes, "next": context["next"]}
            )
        context["error"] = gettext(
            "確認コードが正しくありません。認証アプリに表示されている6桁の数字を、表示が変わる前に入力してください。"
        )
        status = 400
    elif action == "recovery_codes" and enabled:
        codes = two_factor.new_recovery_codes(user)
        return render(request, "staff/two_factor/recovery_codes.html", {"codes": codes, "next": ""})
    elif action == "off" and enabled:
        if two_factor.turn_off(user):
            messages.success(
                request, gettext("2段階認証をやめました。次からはパスワードだけでログインします。")
            )
        else:
            messages.error(
                request, gettext("あなたの役割または団体の方針により、2段階認証はやめられません。")
            )
        return redirect("staff:two_factor")
    pending = two_factor.pending_totp(user)
    if pending is not None:
        context.update(pending=True, secret=two_factor.secret_text(pending), qr=two_factor.qr_svg(pending))
    return render(request, "staff/two_factor/manage.html", context, status=status)


def _keep_next(target: str) -> str:
    return ("?" + urlencode({"next": target})) if target else ""


@login_required
@require_POST
def staff_reset(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    """「2段階認証をリセット」: an admin removes a colleague's second factor (a lost phone); audited."""
    membership = access.access_membership_for_user(request.user, code, membership_id)
    if (confirm := reauth.check(request)) is not None:  # 本人確認 before a colleague's login changes
        return confirm
    two_factor.reset(user=membership.user, actor=request.user, organization=membership.organization)
    if two_factor.is_required(membership.user):
        message = gettext(
            "%(email)s の2段階認証をリセットしました。次のログインで、認証アプリをもう一度設定してもらいます。"
        )
    else:
        message = gettext(
            "%(email)s の2段階認証をリセットしました。次からはパスワードだけでログインします（本人が設定し直すこともできます）。"
        )
    messages.success(request, message % {"email": membership.user.email or membership.user.get_username()})
    return redirect("staff:staff_edit", code=membership.organization.code, membership_id=membership.pk)


@login_required
@require_POST
def policy(request: HttpRequest, code: str) -> HttpResponse:
    """「職員全員に2段階認証を求める」 on the staff list: the organization's admin sets its policy; audited."""
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    if (confirm := reauth.check(request)) is not None:
        return confirm
    required = request.POST.get("two_factor_required") == "1"
    if organization.two_factor_required != required:
        organization.two_factor_required = required
        organization.save(update_fields=["two_factor_required"])
        record(
            organization=organization,
            actor=request.user,
            action="organization.two_factor_policy",
            obj=organization,
            detail={"required": required},
        )
    if required:
        messages.success(
            request,
            gettext(
                "職員全員に2段階認証を求めるようにしました。まだ設定していない職員は、次にログインしたとき"
                "（ログイン中の職員は5分以内の次の操作で）設定の画面に案内されます。"
            ),
        )
    else:
        messages.success(request, gettext("管理者のほかは、2段階認証を各職員の任意にしました。"))
    return redirect("staff:staff_list", code=organization.code)
