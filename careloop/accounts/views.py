"""Log-in with lockout (django-axes) and TOTP two-factor (django-otp); the user's own page."""

from __future__ import annotations

from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.accounts.forms import LoginForm, TokenForm
from careloop.accounts.roles import Role
from careloop.audit.services import record
from careloop.typing import AuthedRequest

# Where each role starts its day (the first that applies, and only with the page's
# permission): those doing follow-ups on the worklist (DOMAIN F8, the nurse's home page),
# supervisors on the dashboard, coordinators on the revisit bookings; others on 工作台.
LANDINGS = (
    ((Role.NURSE, Role.HEALTH_MANAGER, Role.DOCTOR), "followup.view_task", "followup:worklist"),
    ((Role.SUPERVISOR,), "analytics.view_dashboard", "analytics:dashboard"),
    ((Role.COORDINATOR,), "followup.view_revisitrequest", "followup:revisits"),
)


def landing_url(user: Any) -> str:
    """The page a user lands on after logging in when no other page was asked for."""
    for roles, permission, name in LANDINGS:
        if user.has_role(*roles) and user.has_perm(permission):
            return reverse(name)
    return reverse("home")


def _asks_for_a_page(target: str) -> bool:
    """Whether a ``next`` names a page to go back to. Opening the site's address sends the
    log-in back there (``?next=/``), which asks for no page in particular: each role starts
    on its own (``landing_url``). Nor does the log-in page itself (Django refuses it as a
    loop, answering 500 to someone already logged in)."""
    return bool(target) and target.split("?")[0] not in (
        reverse("home"),
        reverse("accounts:login"),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if _asks_for_a_page(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return landing_url(request.user)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        target = super().get_redirect_url()
        return target if _asks_for_a_page(target) else ""

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        record(user, "login", "user", user.pk, summary="password accepted")
        # The page asked for, encoded: its own query (a worklist filter) stays whole.
        after = urlencode({"next": self.get_success_url()})
        if user_has_device(user, confirmed=True):
            return redirect(f"{reverse('accounts:otp_verify')}?{after}")
        if user.requires_two_factor:
            return redirect(f"{reverse('accounts:otp_setup')}?{after}")
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        username = (self.request.POST.get("username") or "")[:150]
        record(
            None, "login_failed", "user", summary="wrong username or password", actor_label=username
        )
        return super().form_invalid(form)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    if request.user.is_authenticated:
        record(request.user, "logout", "user", request.user.pk)
    logout(request)
    return redirect("accounts:login")


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    return image.to_string(encoding="unicode")


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Pair an authenticator app: scan the code, type the 6 digits it shows."""
    user = request.user
    if user_has_device(user, confirmed=True):
        return redirect("accounts:otp_verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record(user, "update", "user", user.pk, summary="two-factor login turned on")
            messages.success(request, _("Two-factor login is on."))
            return HttpResponseRedirect(_next_url(request))
        form.add_error(
            "token",
            _("That code is not right. Check the time on your phone and try the next code."),
        )
    b32 = b32encode(device.bin_key).decode().rstrip("=")
    context = {
        "form": form,
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - generated by qrcode
        "secret": " ".join(b32[i : i + 4] for i in range(0, len(b32), 4)),
        "required": getattr(user, "requires_two_factor", False),
        "next": _next_url(request),
    }
    return render(request, "accounts/otp_setup.html", context)


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if not devices:
        return redirect("accounts:otp_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in devices:
            if device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                record(user, "login", "user", user.pk, summary="two-factor code accepted")
                return HttpResponseRedirect(_next_url(request))
        record(user, "login_failed", "user", user.pk, summary="wrong two-factor code")
        form.add_error("token", _("That code is not right."))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _next_url(request)})


@login_required
def profile(request: AuthedRequest) -> HttpResponse:
    from careloop.accounts.roles import role_label

    user = request.user
    context = {
        "roles": [role_label(code) for code in sorted(user.role_codes)],
        "two_factor_on": user_has_device(user, confirmed=True),
        "two_factor_required": user.requires_two_factor,
        "teams": user.teams.select_related("organisation"),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def otp_disable(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = TokenForm(request.POST)
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    if user.requires_two_factor:
        messages.error(request, _("Administrators must keep two-factor login on."))
    elif not form.is_valid() or not any(
        device.verify_token(form.cleaned_data["token"]) for device in devices
    ):
        messages.error(
            request,
            _("Enter a current code from your authenticator app to turn two-factor login off."),
        )
    else:
        TOTPDevice.objects.filter(user=user).delete()
        record(user, "update", "user", user.pk, summary="two-factor login turned off")
        messages.success(request, _("Two-factor login is off."))
    return redirect("accounts:profile")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        record(
            self.request.user, "update", "user", self.request.user.pk, summary="password changed"
        )
        messages.success(self.request, _("Your password has been changed."))
        return response
