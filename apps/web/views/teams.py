"""Settings → Teams: list, create and edit teams (inboxes, members, hours, SLA), for supervisors
and admins; agents, who may read teams but not manage them, get a 403 page saying so."""

import re
import zoneinfo

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.inboxes.models import Inbox
from apps.teams import services
from apps.teams.hours import WEEKDAYS
from apps.teams.models import DEFAULT_CAPACITY, Team, TeamMember
from apps.teams.selectors import team_get_for, teams_visible_to
from apps.teams.validation import MAX_CAPACITY, MIN_CAPACITY
from apps.web.auth import action_required
from apps.web.forms import ServiceForm
from conversa.errors import DomainError

DAY_NAMES = {
    "mon": gettext_lazy("Monday"), "tue": gettext_lazy("Tuesday"), "wed": gettext_lazy("Wednesday"),
    "thu": gettext_lazy("Thursday"), "fri": gettext_lazy("Friday"), "sat": gettext_lazy("Saturday"),
    "sun": gettext_lazy("Sunday"),
}
# Two ranges a day cover a lunch break; the API takes any number.
RANGES_PER_DAY = 2
ROUTING_HELP = gettext_lazy(
    "Manual: members take conversations themselves. Round robin: each new conversation goes to the "
    "available member who waited longest. Least busy: to the available member with fewest open ones."
)


# Supervisors and admins; other signed-in users learn why they cannot (403).
teams_manager_required = action_required(
    "teams.manage",
    forbidden_page=("web/settings/teams_forbidden.html", {"section": "settings", "tab": "teams"}),
)


def _time_input() -> forms.TextInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class TeamCreateForm(ServiceForm):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    routing = forms.ChoiceField(label=gettext_lazy("Routing"), choices=Team.Routing.choices,
                                initial=Team.Routing.MANUAL, help_text=ROUTING_HELP)


class TeamForm(ServiceForm):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    routing = forms.ChoiceField(label=gettext_lazy("Routing"), choices=Team.Routing.choices,
                                help_text=ROUTING_HELP)
    inbox_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Inboxes"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("New conversations of these inboxes join this team's queue."),
    )
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), initial="UTC")
    holidays = forms.CharField(
        label=gettext_lazy("Holidays"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Dates the team is closed, YYYY-MM-DD, one per line."),
    )
    offline_message = forms.CharField(
        label=gettext_lazy("Offline message"), required=False, max_length=4096,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Sent to customers who write while the team is closed."),
    )
    sla_first_response_minutes = forms.IntegerField(
        label=gettext_lazy("First response target (minutes)"), required=False, min_value=1, max_value=44640,
    )
    sla_resolution_minutes = forms.IntegerField(
        label=gettext_lazy("Resolution target (minutes)"), required=False, min_value=1, max_value=44640,
        help_text=gettext_lazy("Counted within business hours. Leave empty for no target."),
    )

    detail_fields = {
        "business_hours.timezone": "timezone",
        "business_hours.holidays": "holidays",
        "sla.first_response_seconds": "sla_first_response_minutes",
        "sla.resolution_seconds": "sla_resolution_minutes",
    }

    def show_error(self, exc: DomainError) -> None:
        """Details name a day's range (`business_hours.days.mon`, or `….mon.1` for its second) or
        a holiday (`business_hours.holidays.2`): put each next to the control it is about."""
        for detail in exc.details if isinstance(exc.details, list) else []:
            name = str(detail.get("field", "")) if isinstance(detail, dict) else ""
            day = re.fullmatch(r"business_hours\.days\.(\w+?)(?:\.(\d+))?", name)
            if day and day.group(1) in WEEKDAYS:
                index = min(int(day.group(2) or 0), RANGES_PER_DAY - 1) + 1
                detail["field"] = f"{day.group(1)}_start{index}"
            elif name.startswith("business_hours.holidays"):
                detail["field"] = "holidays"
        super().show_error(exc)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inboxes = Inbox.objects.order_by("name", "id")
        self.fields["inbox_ids"].choices = [(inbox.pk, inbox.name) for inbox in inboxes]
        self.fields["timezone"].choices = [(name, name) for name in sorted(zoneinfo.available_timezones())]
        for day in WEEKDAYS:
            for index in range(1, RANGES_PER_DAY + 1):
                for end in ("start", "end"):
                    self.fields[f"{day}_{end}{index}"] = forms.TimeField(
                        label=f"{DAY_NAMES[day]} {end} {index}", required=False, widget=_time_input(),
                    )

    @staticmethod
    def initial_for(team: Team) -> dict:
        hours = team.business_hours or {}
        initial = {
            "name": team.name, "routing": team.routing,
            "inbox_ids": [inbox.pk for inbox in team.inboxes.all()],
            "timezone": hours.get("timezone", "UTC"),
            "holidays": "\n".join(hours.get("holidays", [])),
            "offline_message": team.offline_message,
            "sla_first_response_minutes": _minutes(team.sla_first_response_seconds),
            "sla_resolution_minutes": _minutes(team.sla_resolution_seconds),
        }
        for day, ranges in (hours.get("days") or {}).items():
            for index, (start, end) in enumerate(ranges[:RANGES_PER_DAY], start=1):
                initial[f"{day}_start{index}"], initial[f"{day}_end{index}"] = start, end
        return initial

    def week(self):
        """(day label, [(start field, end field), …]) per weekday, for the hours table."""
        return [
            (DAY_NAMES[day], day, [(self[f"{day}_start{i}"], self[f"{day}_end{i}"])
                                   for i in range(1, RANGES_PER_DAY + 1)])
            for day in WEEKDAYS
        ]

    def clean(self):
        data = super().clean()
        for day in WEEKDAYS:
            for index in range(1, RANGES_PER_DAY + 1):
                start, end = data.get(f"{day}_start{index}"), data.get(f"{day}_end{index}")
                if (start is None) != (end is None):
                    self.add_error(f"{day}_start{index}", _("Give both the opening and the closing time."))
        return data

    def business_hours(self) -> dict:
        """The API's shape; no opening times at all means always open."""
        data = self.cleaned_data
        days = {}
        for day in WEEKDAYS:
            ranges = []
            for index in range(1, RANGES_PER_DAY + 1):
                start, end = data.get(f"{day}_start{index}"), data.get(f"{day}_end{index}")
                if start is not None and end is not None:
                    ranges.append([start.strftime("%H:%M"), end.strftime("%H:%M")])
            if ranges:
                days[day] = ranges
        if not days:
            return {}
        holidays = [line.strip() for line in data.get("holidays", "").replace(",", "\n").splitlines()]
        return {"timezone": data["timezone"], "days": days, "holidays": [h for h in holidays if h]}

    def sla(self) -> dict:
        data = self.cleaned_data
        return {
            "first_response_seconds": _seconds(data.get("sla_first_response_minutes")),
            "resolution_seconds": _seconds(data.get("sla_resolution_minutes")),
        }


class MemberForm(ServiceForm):
    user_id = forms.TypedChoiceField(label=gettext_lazy("Person"), coerce=int)
    capacity = forms.IntegerField(
        label=gettext_lazy("Capacity"), min_value=MIN_CAPACITY, max_value=MAX_CAPACITY,
        initial=DEFAULT_CAPACITY,
        help_text=gettext_lazy("Most conversations routing gives this member at once."),
    )
    priority = forms.IntegerField(
        label=gettext_lazy("Priority"), min_value=-100, max_value=100, initial=0,
        help_text=gettext_lazy("Members of higher priority get conversations first."),
    )

    def __init__(self, *args, team: Team, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        if users is None:
            users = User.objects.filter(is_active=True).exclude(team_memberships__team=team)
        self.fields["user_id"].choices = [
            (user.pk, f"{user.name or user.email} ({user.get_role_display()})")
            for user in users.order_by("name", "email")
        ]


def _minutes(seconds: int | None) -> int | None:
    return None if seconds is None else max(1, round(seconds / 60))


def _seconds(minutes: int | None) -> int | None:
    return None if minutes is None else minutes * 60


def _page(request, template: str, context: dict, status: int = 200):
    return render(request, template, {"section": "settings", "tab": "teams", **context}, status=status)


def _team_page(request, team: Team, form: TeamForm, member_form: MemberForm, status: int = 200):
    return _page(request, "web/settings/team.html", {
        "team": team, "form": form, "member_form": member_form,
        "members": team.members.select_related("user").order_by("-priority", "user__name", "user__email"),
    }, status=status)


@teams_manager_required
def teams_view(request):
    form = TeamCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                team = services.team_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Team created. Now add its members, inboxes and hours."))
                return redirect("web:settings-team", team_id=team.pk)
        else:
            status = 422
    return _page(request, "web/settings/teams.html", {
        "form": form, "teams": teams_visible_to(request.user).order_by("name", "id"),
    }, status=status)


@teams_manager_required
def team_view(request, team_id: int):
    team = team_get_for(request.user, team_id)
    form = TeamForm(request.POST or None, initial=TeamForm.initial_for(team))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.team_update(
                    actor=request.user, team=team, name=data["name"], routing=data["routing"],
                    inbox_ids=data["inbox_ids"], business_hours=form.business_hours(), sla=form.sla(),
                    offline_message=data["offline_message"],
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Team saved."))
                return redirect("web:settings-team", team_id=team.pk)
        else:
            status = 422
    return _team_page(request, team, form, MemberForm(team=team), status=status)


@teams_manager_required
@require_POST
def team_delete_view(request, team_id: int):
    team = team_get_for(request.user, team_id)
    services.team_delete(actor=request.user, team=team)
    messages.success(request, _("Team %(name)s deleted.") % {"name": team.name})
    if request.htmx:  # asked to confirm first (hx-confirm); the list then shows the flash
        response = HttpResponse("")
        response["HX-Redirect"] = reverse("web:settings-teams")
        return response
    return redirect("web:settings-teams")


@teams_manager_required
@require_POST
def member_set_view(request, team_id: int):
    """Add a member, or (from a member's row) change their capacity and priority."""
    team = team_get_for(request.user, team_id)
    existing = TeamMember.objects.filter(team=team, user_id=request.POST.get("user_id") or 0).exists()
    users = User.objects.filter(team_memberships__team=team) if existing else None
    member_form = MemberForm(request.POST, team=team, users=users)
    status = 422
    if member_form.is_valid():
        data = member_form.cleaned_data
        user = User.objects.get(pk=data["user_id"])
        try:
            services.team_member_set(actor=request.user, team=team, user=user,
                                     capacity=data["capacity"], priority=data["priority"])
        except DomainError as exc:
            member_form.show_error(exc)
            status = exc.status
        else:
            name = user.name or user.email
            messages.success(request, _("%(name)s saved.") % {"name": name} if existing
                             else _("%(name)s added to the team.") % {"name": name})
            return redirect("web:settings-team", team_id=team.pk)
    if existing:
        messages.error(request, " ".join(str(e) for errors in member_form.errors.values() for e in errors)
                       or member_form.service_error)
        return redirect("web:settings-team", team_id=team.pk)
    form = TeamForm(initial=TeamForm.initial_for(team))
    return _team_page(request, team, form, member_form, status=status)


@teams_manager_required
@require_POST
def member_remove_view(request, team_id: int, user_id: int):
    team = team_get_for(request.user, team_id)
    if services.team_member_remove(actor=request.user, team=team, user_id=user_id):
        messages.success(request, _("Member removed."))
    return redirect("web:settings-team", team_id=team.pk)
