"""Idempotent demo data: the `demo` company with an admin and two agents, and a super-admin."""

import datetime as dt
import os

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.campaigns.models import Campaign
from apps.campaigns.sender import campaign_send_run
from apps.campaigns.services import campaign_create, campaign_start
from apps.contacts.models import Contact, ContactList, ContactListMember, Segment
from apps.contacts.segments import segment_create
from apps.conversations.inbound import message_receive
from apps.conversations.models import Conversation, QuickReply
from apps.conversations.outbound import message_send
from apps.conversations.services import conversation_assign, conversation_close, quick_reply_create
from apps.flows.models import Flow
from apps.flows.services import flow_create, flow_publish
from apps.inboxes.models import Inbox
from apps.inboxes.providers.base import InboundMessage
from apps.inboxes.services import inbox_create, template_create
from apps.knowledge.models import Category
from apps.knowledge.services import article_create, category_create
from apps.tasks.models import Task
from apps.tasks.services import task_create
from apps.teamchat.models import Room
from apps.teamchat.services import message_send as chat_message_send
from apps.teamchat.services import room_create, room_direct_open
from apps.teams.models import Team
from apps.teams.services import team_create, team_member_set
from tenants.models import Company
from tenants.services import company_create, tenant_host

DEMO_PASSWORD = "conversa-demo"
SUPERADMIN = ("operator@example.com", "Platform operator")
ADMIN = ("admin@example.com", "Daniela Admin")
SANDBOX_INBOX = "Sandbox WhatsApp"
# (customer, phone, their messages, assigned agent, the agent's reply, closed afterwards)
SAMPLE_CONVERSATIONS = [
    # Three days old: outside the 24-hour window, so only a template can answer it.
    ("Sofía Méndez", "+5491155550105", ["¿Me avisan cuando vuelva a haber stock?"], None, None, False),
    (
        "María López",
        "+5491155550101",
        ["Hola, ¿hacen envíos a Córdoba?", "Es para un regalo 🎁"],
        "ana@example.com",
        "¡Hola María! Sí, enviamos a todo el país en 48 h.",
        True,
    ),
    (
        "João Pereira",
        "+5511955550102",
        ["Bom dia! Meu pedido #4821 ainda não chegou."],
        "ana@example.com",
        "Bom dia, João! Vou verificar agora mesmo.",
        False,
    ),
    ("Emily Carter", "+14155550103", ["Hi, can I change my delivery address?"], None, None, False),
    (
        "Carlos Ruiz",
        "+525555500104",
        ["¿Tienen la talla M en azul?", "¿Y en negro?"],
        "bruno@example.com",
        None,
        False,
    ),
]
QUICK_REPLIES = [
    ("hello", "Hi {{contact.first_name}}! Thanks for writing to us. How can I help?"),
    ("hola", "¡Hola {{contact.first_name}}! Gracias por escribirnos. ¿En qué te puedo ayudar?"),
    ("thanks", "Thank you, {{contact.first_name}}! Anything else I can do for you?"),
    ("hours", "We answer Monday to Friday, 9:00 to 18:00."),
]
DEMO_CHAT_ROOM = "Whole team"
AGENTS = [
    ("ana@example.com", "Ana Agent", "agent"),
    ("bruno@example.com", "Bruno Agent", "agent"),
    ("carla@example.com", "Carla Supervisor", "supervisor"),
]
# (name, routing, members (email, capacity), serves the sandbox inbox)
TEAMS = [
    ("Support", "round_robin", [("ana@example.com", 5), ("bruno@example.com", 5), ("carla@example.com", 3)],
     True),
    ("Sales", "manual", [("bruno@example.com", 4), ("carla@example.com", 3)], False),
]
# Weekdays 9:00–18:00 in São Paulo, with Christmas off; 15 minutes to answer, a working day to solve.
DEMO_HOURS = {
    "timezone": "America/Sao_Paulo",
    "days": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25", "2027-01-01"],
}
DEMO_SLA = {"first_response_seconds": 15 * 60, "resolution_seconds": 9 * 3600}
OFFLINE_MESSAGE = (
    "Thanks for writing! We answer Monday to Friday, 9:00 to 18:00 (São Paulo time); we'll be back soon."
)

DEMO_SEGMENT = ("New leads", {"lead_status": "new"})
# The help centre at /help/: (category, [(title, Markdown, visibility)]).
DEMO_KNOWLEDGE = [
    ("Envíos", [
        ("¿Cuánto tarda un envío?", "Enviamos a **todo el país** en 48 horas hábiles.\n\n"
         "- Córdoba y Rosario: 24 h\n- Resto del país: 48 h\n\nSigue tu pedido desde el correo de "
         "confirmación.", "public"),
        ("Cambiar la dirección de entrega", "Escríbenos por WhatsApp **antes del despacho** con el número "
         "de pedido y la nueva dirección.", "public"),
    ]),
    ("Para el equipo", [
        ("Cómo responder reclamos de envío", "1. Pide el número de pedido.\n2. Revisa el estado en el "
         "panel del transportista.\n3. Si pasaron más de 72 h, crea una tarea para Carla.", "internal"),
    ]),
]
# A published bot on the sandbox inbox: a menu, a question, then a hand-off to the right team.
DEMO_FLOW = "Welcome bot (demo)"


def demo_flow_graph(teams: dict[str, int]) -> dict:
    return {"start": "welcome", "nodes": {
        "welcome": {"type": "message", "text": "Hi {{contact.first_name}}! Welcome to Demo Company.",
                    "next": "menu"},
        "menu": {"type": "menu", "text": "How can we help you today?", "variable": "topic",
                 "invalid_text": "Please answer with the number of an option.", "attempts": 3,
                 "options": [{"label": "Buy something", "next": "ask_email"},
                             {"label": "Help with an order", "next": "ask_order"}]},
        "ask_email": {"type": "question", "text": "Great! What is your email, so we can send you an offer?",
                      "variable": "email", "validation": {"type": "email"}, "save_to": "email",
                      "invalid_text": "That does not look like an email address.", "next": "to_sales"},
        "ask_order": {"type": "question", "text": "What is your order number?", "variable": "order",
                      "validation": {"type": "number"}, "invalid_text": "Please send just the number.",
                      "next": "to_support"},
        "to_sales": {"type": "handoff", "team_id": teams["Sales"],
                     "text": "Thanks! Someone from Sales will write to you here shortly."},
        "to_support": {"type": "handoff", "team_id": teams["Support"],
                       "text": "Thanks! A person from Support will look at order {{order}} and answer here."},
    }}
DEMO_CAMPAIGNS = ("Spring sale (demo)", "Saturday event (draft)")

class Command(BaseCommand):
    help = "Create (or complete) the demo company `demo`, its users and a platform super-admin."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, **options):
        password = options["password"]
        self.ensure_superadmin(password)
        company = Company.objects.filter(slug="demo").first()
        if company is None:
            company, _ = company_create(
                name="Demo Company",
                slug="demo",
                plan_code="pro",
                admin_email=ADMIN[0],
                admin_password=password,
                admin_name=ADMIN[1],
            )
        with schema_context(company.schema_name):
            for email, name, role in AGENTS:
                if not User.objects.filter(email=email).exists():
                    user_create(actor=None, email=email, password=password, name=name, role=role)
            inbox = self.ensure_conversations()
            self.ensure_teams(inbox)
            self.ensure_quick_replies()
            self.ensure_campaigns(company, inbox)
            self.ensure_segments()
            self.ensure_team_chat()
            self.ensure_knowledge()
            self.ensure_tasks()
            self.ensure_flow(inbox)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        port = os.environ.get("PORT", "8000")
        self.stdout.write(f"  agents' UI:   http://{tenant_host('demo')}:{port}/app/")
        self.stdout.write(f"  company API:  http://{tenant_host('demo')}:{port}/api/v1/docs")
        for email, _name, *role in [ADMIN, *AGENTS]:
            self.stdout.write(f"  {(role[0] if role else 'admin'):<12}  {email} / {password}")
        self.stdout.write(
            f"  super-admin   {SUPERADMIN[0]} / {password}  (console and platform API on BASE_DOMAIN)"
        )
        self.stdout.write(
            f"  sandbox:      POST http://{tenant_host('demo')}:{port}/hooks/sandbox/{inbox.pk}"
            f"  X-Sandbox-Token: {inbox.sandbox_token}"
        )

    @transaction.atomic
    def ensure_conversations(self) -> Inbox:
        """A sandbox inbox with a few conversations in three languages, created once."""
        inbox = Inbox.objects.filter(provider=Inbox.Provider.SANDBOX, name=SANDBOX_INBOX).first()
        if inbox is not None:
            return inbox
        inbox = inbox_create(actor=None, name=SANDBOX_INBOX, provider=Inbox.Provider.SANDBOX, credentials={})
        template_create(
            actor=None,
            inbox=inbox,
            name="order_update",
            language="en",
            category="utility",
            body="Hi {{1}}, your order {{2}} is on its way.",
        )
        template_create(
            actor=None,
            inbox=inbox,
            name="order_update",
            language="es",
            category="utility",
            body="Hola {{1}}, tu pedido {{2}} está en camino.",
        )
        agents = {user.email: user for user in User.objects.filter(role=User.Role.AGENT)}
        now = timezone.now()
        for minutes_ago, (name, phone, lines, assignee, reply, close) in zip(
            (3 * 24 * 60, 95, 40, 12, 3),
            SAMPLE_CONVERSATIONS,
            strict=True,
        ):
            message = None
            for offset, text in enumerate(lines):
                message = message_receive(
                    inbox=inbox,
                    inbound=InboundMessage(
                        provider_message_id=f"demo-{phone}-{offset}",
                        from_phone=phone,
                        profile_name=name,
                        kind="text",
                        text=text,
                        timestamp=now - dt.timedelta(minutes=minutes_ago - offset),
                    ),
                )
            conversation = Conversation.objects.get(pk=message.conversation_id)
            if assignee:
                conversation = conversation_assign(
                    conversation=conversation, assignee=agents[assignee], actor=None
                )
            if reply:
                message_send(conversation=conversation, author=agents.get(assignee), text=reply)
            if close:
                conversation_close(
                    conversation=conversation, actor=None, reason="resolved", outcome="information"
                )
        return inbox

    @transaction.atomic
    def ensure_teams(self, inbox: Inbox) -> None:
        """Two teams, created once: Support answers the sandbox inbox by round robin within business
        hours and an SLA (the sample conversations join its queue); Sales is routed by hand."""
        if Team.objects.exists():
            return
        users = {user.email: user for user in User.objects.all()}
        for name, routing, members, serves_inbox in TEAMS:
            team = team_create(
                actor=None, name=name, routing=routing, inbox_ids=[inbox.pk] if serves_inbox else [],
                business_hours=DEMO_HOURS, sla=DEMO_SLA if serves_inbox else None,
                offline_message=OFFLINE_MESSAGE if serves_inbox else "",
            )
            for email, capacity in members:
                team_member_set(actor=None, team=team, user=users[email], capacity=capacity)
            if serves_inbox:
                Conversation.objects.filter(inbox=inbox, team__isnull=True).update(team=team)

    def ensure_campaigns(self, company, inbox: Inbox) -> None:
        """A list of the demo's customers, one campaign sent to them through the sandbox (really
        sent, by the sender run here) and one draft; created once."""
        if Campaign.objects.filter(name=DEMO_CAMPAIGNS[0]).exists():
            return
        customers, _ = ContactList.objects.get_or_create(name="Demo customers")
        ContactListMember.objects.bulk_create(
            [ContactListMember(contact_list=customers, contact=contact) for contact in Contact.objects.all()],
            ignore_conflicts=True,
        )
        audience = {"list_ids": [customers.pk]}
        sent = campaign_create(actor=None, name=DEMO_CAMPAIGNS[0], inbox_id=inbox.pk, audience=audience,
                               message={"text": "Hi {{contact.first_name}}! Our spring sale starts today."})
        campaign_start(actor=None, campaign=sent)
        campaign_send_run(schema_name=company.schema_name, campaign_id=sent.pk)
        campaign_create(actor=None, name=DEMO_CAMPAIGNS[1], inbox_id=inbox.pk, audience=audience,
                        message={"text": "Hola {{contact.first_name}}, ¡te esperamos el sábado!"},
                        send_window={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
                                     "end": "18:00"}, timezone="America/Sao_Paulo", rate_per_second=10)

    @transaction.atomic
    def ensure_team_chat(self) -> None:
        """A group room of everyone with a short exchange and a direct room; created once."""
        if Room.objects.filter(name=DEMO_CHAT_ROOM).exists():
            return
        users = {user.email: user for user in User.objects.all()}
        admin, ana, bruno = users[ADMIN[0]], users["ana@example.com"], users["bruno@example.com"]
        room = room_create(actor=admin, name=DEMO_CHAT_ROOM, description="Everyone in the demo company",
                           member_ids=[user.pk for user in users.values()])
        question = chat_message_send(actor=admin, room=room, text="Who can cover the weekend queue?")
        chat_message_send(actor=ana, room=room, text="I can take Saturday.", reply_to_id=question.pk)
        chat_message_send(actor=bruno, room=room, text="Sunday is mine, @Ana Agent thanks!")
        direct, _ = room_direct_open(actor=admin, user_id=ana.pk)
        chat_message_send(actor=admin, room=direct, text="Great work on the Córdoba order today.")

    def ensure_segments(self) -> None:
        """A saved filter to show segments with (every demo contact is a new lead)."""
        if not Segment.objects.filter(name=DEMO_SEGMENT[0]).exists():
            segment_create(actor=None, name=DEMO_SEGMENT[0], filters=DEMO_SEGMENT[1])

    def ensure_knowledge(self) -> None:
        """Published articles for the help centre and an internal one for the agents; created once."""
        if Category.objects.exists():
            return
        admin = User.objects.get(email=ADMIN[0])
        for position, (name, articles) in enumerate(DEMO_KNOWLEDGE):
            category = category_create(actor=admin, name=name, position=position)
            for title, body, visibility in articles:
                article_create(actor=admin, category_id=category.pk, title=title, body=body,
                               visibility=visibility, status="published", language="es")

    def ensure_tasks(self) -> None:
        """A follow-up the supervisor gave Ana about João's late order, due tomorrow; created once."""
        if Task.objects.exists():
            return
        carla = User.objects.get(email="carla@example.com")
        ana = User.objects.get(email="ana@example.com")
        conversation = Conversation.objects.filter(contact__phone="+5511955550102").first()
        due = timezone.now() + dt.timedelta(days=1)
        task_create(actor=carla, title="Llamar a João por el pedido #4821", assignee_id=ana.pk,
                    conversation_id=conversation.pk if conversation else None, due_at=due,
                    remind_at=due - dt.timedelta(hours=1), priority="high",
                    description="El transportista no muestra movimientos desde el lunes.")
    @transaction.atomic
    def ensure_flow(self, inbox: Inbox) -> None:
        """The welcome bot on the sandbox inbox (menu → question → hand-off to a team), published;
        created once."""
        if Flow.objects.filter(name=DEMO_FLOW).exists():
            return
        teams = dict(Team.objects.values_list("name", "pk"))
        flow = flow_create(actor=None, name=DEMO_FLOW, graph=demo_flow_graph(teams),
                           trigger={"type": "new_conversation", "inbox_id": inbox.pk},
                           description="Greets new customers and hands them to Sales or Support.")
        flow_publish(actor=None, flow=flow)

    def ensure_quick_replies(self) -> None:
        for shortcut, content in QUICK_REPLIES:
            if not QuickReply.objects.filter(shortcut=shortcut, owner__isnull=True).exists():
                quick_reply_create(actor=None, shortcut=shortcut, content=content)

    def ensure_superadmin(self, password: str) -> None:
        with schema_context("public"):
            if not User.objects.filter(email=SUPERADMIN[0]).exists():
                User.objects.create_superuser(SUPERADMIN[0], password, name=SUPERADMIN[1])
