"""Terraform and the code, held to each other.

Each side is read from its source: the infrastructure from terraform/*.tf (python-hcl2, with
the values of each environment's tfvars), the code's facts from shared.stages.FUNCTIONS,
Settings.required_for, shared.settings.Settings and main.py. Nothing here lists
functions, topics or secrets itself.

Terraform expressions are resolved by tests/contract/terraform.py, a deliberately small
reader that raises `Unresolved` on anything it does not understand. Each check returns its
list of problems, so the last tests here can show that every check fails on a broken copy.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from shared import stages
from shared.services import reconciler
from shared.settings import Settings
from shared.settings import field as settings_field
from shared.settings import fields as settings_fields
from tests.contract.terraform import Config, Ref, Template, Unresolved, parse

TF_DIR = Path(__file__).resolve().parents[2] / "terraform"
VAR_FILES = [*sorted((TF_DIR / "envs").glob("*.tfvars")), TF_DIR / "terraform.tfvars.example"]


@cache
def load(var_file: Path) -> Config:
    documents = [parse(p.read_text(encoding="utf-8")) for p in sorted(TF_DIR.glob("*.tf"))]
    return Config(documents, parse(var_file.read_text(encoding="utf-8")))


@pytest.fixture(params=VAR_FILES, ids=lambda p: p.name)
def config(request: pytest.FixtureRequest) -> Config:
    return load(request.param).copy()


# --- The infrastructure's facts ---------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """A deployed function as Terraform configures it."""

    entry_point: str
    address: tuple[str, str, str | None]
    account: tuple[str, str, str | None]
    plain_env: dict[str, str]
    secret_env: dict[str, tuple[str, str, str | None]]  # env name -> secret instance
    ingress: str


def member_of(value: Any) -> Any:
    """A resource address for `sa.member` / "serviceAccount:${sa.email}", else the literal."""
    if isinstance(value, Ref):
        return value.address
    if isinstance(value, Template):
        refs = [part for part in value.parts if isinstance(part, Ref)]
        return refs[0].address if len(refs) == 1 else value
    return value


def functions(config: Config) -> dict[str, Function]:
    found = {}
    for inst in config.instances("google_cloudfunctions2_function"):
        service = inst.body["service_config"][0]
        secrets = {
            block["key"]: block["secret"].address
            for block in config.blocks(inst, service, "secret_environment_variables")
        }
        env = config.get(inst, "service_config", 0, "environment_variables")
        entry_point = config.get(inst, "build_config", 0, "entry_point")
        found[entry_point] = Function(
            entry_point=entry_point,
            address=inst.address,
            account=config.get(inst, "service_config", 0, "service_account_email").address,
            plain_env={name: str(value) for name, value in env.items()},
            secret_env=secrets,
            ingress=config.get(inst, "service_config", 0, "ingress_settings"),
        )
    return found


def entry_point_at(config: Config, ref: Any) -> str | None:
    refs = (
        [ref]
        if isinstance(ref, Ref)
        else [p for p in getattr(ref, "parts", ()) if isinstance(p, Ref)]
    )
    by_address = {fn.address: name for name, fn in functions(config).items()}
    return next((by_address[r.address] for r in refs if r.address in by_address), None)


def grants(config: Config, rtype: str, role: str, target: str) -> dict[Any, set[Any]]:
    """member -> the `target` attribute (resolved) of every `rtype` grant of `role`."""
    granted: dict[Any, set[Any]] = {}
    for inst in config.instances(rtype):
        if config.get(inst, "role") == role:
            member = member_of(config.get(inst, "member"))
            granted.setdefault(member, set()).add(config.get(inst, target))
    return granted


def topic_name(config: Config, ref: Ref) -> str:
    return str(config.get(config.instance(ref), "name"))


# --- The code's facts -------------------------------------------------------------------


def settings_of(fn: Function) -> Settings:
    """Settings read from exactly the environment Terraform gives a function (from_values
    reads no environment of its own)."""
    return Settings.from_values({**fn.plain_env, **dict.fromkeys(fn.secret_env, "<s>")})


def known_functions(config: Config) -> Iterator[tuple[str, Function, stages.FunctionSpec]]:
    """Deployed functions the code knows (entry_point_problems reports the others)."""
    for ep, fn in functions(config).items():
        if ep in stages.FUNCTIONS:
            yield ep, fn, stages.FUNCTIONS[ep]


def is_secret_field(name: str) -> bool:
    return settings_field(name).secret


# --- The contract, as lists of problems (empty when Terraform and the code agree) ------


def entry_point_problems(config: Config) -> list[str]:
    deployed, code = set(functions(config)), set(stages.FUNCTIONS)
    return [f"deployed but not in stages.FUNCTIONS: {ep}" for ep in sorted(deployed - code)] + [
        f"in stages.FUNCTIONS but not deployed: {ep}" for ep in sorted(code - deployed)
    ]


def settings_problems(config: Config) -> list[str]:
    problems = []
    for ep, fn, spec in known_functions(config):
        settings = settings_of(fn)
        names = settings.required_for(spec)
        required = set(Settings.env_names(names))
        for env in sorted(required - set(fn.plain_env) - set(fn.secret_env)):
            problems.append(f"{ep}: {env} is required but neither set nor mounted")
        for env in sorted(set(fn.secret_env) - required):
            problems.append(f"{ep}: mounts {env}, which it does not read")
        for name in names:
            env = Settings.env_names([name])[0]
            if is_secret_field(name) and env not in fn.secret_env:
                problems.append(f"{ep}: {env} is a secret but is not a Secret Manager mount")
        for info in settings_fields():
            if info.choices and getattr(settings, info.name) == info.default:  # offline adapter
                problems.append(f"{ep}: {info.variable} selects the offline default")
    return problems


def topic_problems(config: Config) -> list[str]:
    created = {str(config.get(inst, "name")) for inst in config.instances("google_pubsub_topic")}
    problems = []
    for ep, fn, spec in known_functions(config):
        settings = settings_of(fn)
        for stage in (*spec.publishes, *([spec.trigger] if spec.trigger else [])):
            if settings.topic(stage) not in created:
                problems.append(f"{ep}: topic {settings.topic(stage)!r} is not created")
    return problems


def publish_problems(config: Config) -> list[str]:
    granted = grants(config, "google_pubsub_topic_iam_member", "roles/pubsub.publisher", "topic")
    problems = []
    project_members = {
        member_of(config.get(inst, "member"))
        for inst in config.instances("google_project_iam_member")
    }
    for ep, fn, spec in known_functions(config):
        settings = settings_of(fn)
        expected = {settings.topic(stage) for stage in spec.publishes}
        actual = {topic_name(config, ref) for ref in granted.get(fn.account, set())}
        if actual != expected:
            problems.append(f"{ep}: may publish to {sorted(actual)}, publishes {sorted(expected)}")
        if fn.account in project_members:
            problems.append(f"{ep}: its runtime account has a project-wide role")
    return problems


def secret_access_problems(config: Config) -> list[str]:
    granted = grants(
        config,
        "google_secret_manager_secret_iam_member",
        "roles/secretmanager.secretAccessor",
        "secret_id",
    )
    problems = []
    for ep, fn in functions(config).items():
        readable = {ref.address for ref in granted.get(fn.account, set())}
        mounted = set(fn.secret_env.values())
        if readable != mounted:
            keys = [sorted(str(address[2]) for address in side) for side in (readable, mounted)]
            problems.append(f"{ep}: may read secrets {keys[0]}, mounts {keys[1]}")
    return problems


def subscription_problems(config: Config) -> list[str]:
    workers = {ep: spec for ep, spec in stages.FUNCTIONS.items() if spec.trigger}
    deployed, problems, pushed = functions(config), [], []
    subscriptions = list(config.instances("google_pubsub_subscription"))
    pulled = {config.get(s, "topic").address for s in subscriptions if "push_config" not in s.body}
    for sub in subscriptions:
        if "push_config" not in sub.body:
            continue
        ep = entry_point_at(config, config.get(sub, "push_config", 0, "push_endpoint"))
        pushed.append(ep)
        if ep not in workers:
            problems.append(f"{sub.address}: pushes to {ep}, which no topic triggers")
            continue
        expected = settings_of(deployed[ep]).topic(workers[ep].trigger)  # type: ignore[arg-type]
        if topic_name(config, config.get(sub, "topic")) != expected:
            problems.append(f"{ep}: its subscription is not on {expected!r}")
        if "oidc_token" not in sub.body["push_config"][0] or "retry_policy" not in sub.body:
            problems.append(f"{ep}: push subscription lacks an OIDC token or a retry policy")
        if "dead_letter_policy" not in sub.body:
            problems.append(f"{ep}: push subscription has no dead-letter policy")
            continue
        policy = config.get(sub, "dead_letter_policy", 0)
        if policy["max_delivery_attempts"] != config.variables["max_delivery_attempts"]:
            problems.append(f"{ep}: max_delivery_attempts is not var.max_delivery_attempts")
        if policy["dead_letter_topic"].address not in pulled:
            problems.append(f"{ep}: nothing pulls its dead-letter topic")
    if sorted(map(str, pushed)) != sorted(workers):
        problems.append(
            f"push subscriptions feed {sorted(map(str, pushed))}, not {sorted(workers)}"
        )
    return problems


def invoker_problems(config: Config) -> list[str]:
    by_ep = functions(config)
    invokers: dict[str, set[Any]] = {ep: set() for ep in by_ep}
    for inst in config.instances("google_cloud_run_service_iam_member"):
        if config.get(inst, "role") == "roles/run.invoker":
            ep = entry_point_at(config, config.get(inst, "service"))
            invokers[str(ep)].add(member_of(config.get(inst, "member")))
    push = {
        member_of(config.get(s, "push_config", 0, "oidc_token", 0, "service_account_email"))
        for s in config.instances("google_pubsub_subscription")
        if "push_config" in s.body
    }
    scheduled = {
        entry_point_at(config, config.get(job, "http_target", 0, "uri")): member_of(
            config.get(job, "http_target", 0, "oidc_token", 0, "service_account_email")
        )
        for job in config.instances("google_cloud_scheduler_job")
    }
    problems = []
    for ep, spec in stages.FUNCTIONS.items():
        expected: set[Any] = set()
        if spec.checks_webhook_secret:
            expected.add("allUsers")
        if spec.trigger:
            expected |= push
        if not spec.trigger and not spec.checks_webhook_secret:
            expected.add(scheduled.get(ep))  # reconcile: called by Cloud Scheduler only
        if invokers.get(ep) != expected:
            problems.append(f"{ep}: invoked by {invokers.get(ep)}, expected {expected}")
        public_ingress = by_ep[ep].ingress == "ALLOW_ALL" if ep in by_ep else False
        if public_ingress != spec.checks_webhook_secret:
            problems.append(f"{ep}: ingress {by_ep[ep].ingress} (only the webhook is public)")
    return problems


SECRET_PATTERNS = {
    "database URL with a password": re.compile(r"postgres(?:ql)?://[^\s:@/]+:[^\s@/]+@"),
    "JWT (a Supabase key)": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}"),
    "Google API key": re.compile(r"AIza[\w-]{30,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "secret version in Terraform": re.compile(r"google_secret_manager_secret_version|secret_data"),
}


def secret_literal_problems(texts: dict[str, str]) -> list[str]:
    return [
        f"{name}: {what}"
        for name, text in texts.items()
        for what, pattern in SECRET_PATTERNS.items()
        if pattern.search(text)
    ]


def _text(value: Any) -> str:
    return "".join(str(part) for part in value.parts) if isinstance(value, Template) else str(value)


# What each alert policy must watch: a piece its filter must contain.
ALERT_WATCHES = {
    "oldest_queued": '${google_logging_metric.gauge["oldest_queued_seconds"].name}',
    "dead_letters": "google_pubsub_subscription.dead_letter",
    "oldest_unacked": "google_pubsub_subscription.push",
    "function_errors": "google_cloudfunctions2_function.fn",
}


def monitoring_problems(config: Config) -> list[str]:
    """The log-based metrics read the reconciler's gauges line as the code writes it, the
    oldest-queued alert reads the metric of the oldest-queued field, and every alert policy
    notifies the channels of the variable."""
    problems = []
    message = f'jsonPayload.message="{reconciler.GAUGES_MESSAGE}"'
    logger = f'jsonPayload.logger="{reconciler.log.name}"'
    fields = {}
    for inst in config.instances("google_logging_metric"):
        where = f"google_logging_metric.{inst.name}[{inst.key}]"
        text = _text(config.eval(inst.body["filter"], inst.scope))
        if message not in text or logger not in text:
            problems.append(f"{where}: its filter does not match the gauges line ({text})")
        extractor = _text(config.eval(inst.body["value_extractor"], inst.scope))
        field = re.fullmatch(r"EXTRACT\(jsonPayload\.(\w+)\)", extractor)
        if field is None or field.group(1) not in reconciler.GAUGES:
            problems.append(f"{where}: extracts {extractor}, not one of {reconciler.GAUGES}")
        else:
            fields[inst.key] = field.group(1)
        if inst.body.get("label_extractors") != {"stage": "EXTRACT(jsonPayload.stage)"}:
            problems.append(f"{where}: the stage label is not the line's stage field")
    if fields.get("oldest_queued_seconds") != "oldest_queued_s":
        problems.append("no log-based metric of oldest_queued_s named oldest_queued_seconds")
    policies = {inst.name: inst for inst in config.instances("google_monitoring_alert_policy")}
    for name, watched in ALERT_WATCHES.items():
        if name not in policies:
            problems.append(f"no alert policy {name}")
            continue
        body = policies[name].body
        filters = [c["condition_threshold"][0]["filter"] for c in body["conditions"]]
        if not any(watched in f for f in filters):
            problems.append(f"alert policy {name} does not watch {watched}")
    for name, inst in policies.items():
        if inst.body.get("notification_channels") != "${var.alert_notification_channels}":
            problems.append(f"alert policy {name} does not notify var.alert_notification_channels")
    return problems


# --- Tests ------------------------------------------------------------------------------

CHECKS = [
    entry_point_problems,
    settings_problems,
    topic_problems,
    publish_problems,
    secret_access_problems,
    subscription_problems,
    invoker_problems,
    monitoring_problems,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_terraform_agrees_with_the_code(config: Config, check: Any) -> None:
    assert check(config) == []


def test_main_exposes_every_deployed_entry_point() -> None:
    try:
        main = importlib.import_module("main")
    except ModuleNotFoundError as exc:
        if exc.name != "main":
            raise
        pytest.fail("main.py does not exist: it must expose every entry point Terraform deploys")
    deployed = functions(load(VAR_FILES[0]))
    assert sorted(ep for ep in deployed if not callable(getattr(main, ep, None))) == []


def test_no_secret_value_in_terraform() -> None:
    files = [
        p
        for p in TF_DIR.rglob("*")
        if p.name.endswith((".tf", ".tfvars", ".tfvars.example")) and ".terraform" not in p.parts
    ]
    texts = {str(p.relative_to(TF_DIR)): p.read_text(encoding="utf-8") for p in files}
    assert secret_literal_problems(texts) == []
    secretish = re.compile(r"(^|_)(secret|password|token|key|credentials?)(_|$)")
    config = load(VAR_FILES[0])
    assert [name for name in config.variables if secretish.search(name)] == []


# --- The reader and the checks can fail -------------------------------------------------


def test_reader_resolves_the_subset_it_claims() -> None:
    config = load(VAR_FILES[0])
    member = config.eval('${google_service_account.runtime["webhook"].member}')
    assert member == Ref("google_service_account", "runtime", "webhook", "member")
    scope = {"each": {"key": "ssml", "value": "ssml"}}
    uri = config.eval(
        "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}", scope
    )
    assert uri == Ref("google_cloudfunctions2_function", "fn", "ssml", "service_config[0].uri")
    assert config.eval('${toset(["a", "b"])}') == ["a", "b"]
    assert config.eval('${var.topics["ssml"]}') == settings_field("topic_ssml").default
    template = config.eval("serviceAccount:${google_service_account.push.email}")
    assert member_of(template) == ("google_service_account", "push", None)
    with pytest.raises(Unresolved):
        config.eval("${merge(local.labels, var.labels)}")
    with pytest.raises(Unresolved):
        config.eval("${each.key}")


def _publish_ssml_from_webhook(c: Config) -> None:
    c.resources[("google_pubsub_topic_iam_member", "webhook")]["for_each"] = '${toset(["ssml"])}'


def _drop_webhook_secret(c: Config) -> None:
    c.locals["functions"]["webhook"]["secrets"] = ["DATABASE_URL"]


def _grant_audio_too_little(c: Config) -> None:
    c.resources[("google_secret_manager_secret_iam_member", "audio")]["for_each"] = (
        '${toset(["DATABASE_URL"])}'
    )


def _misname_ssml_topic(c: Config) -> None:
    c.locals["runtime_env"]["CUECAST_TOPIC_SSML"] = "cuecast-ssml-typo"


def _select_offline_tts(c: Config) -> None:
    c.locals["runtime_env"]["CUECAST_TTS"] = "espeak"


def _drop_dead_letters(c: Config) -> None:
    del c.resources[("google_pubsub_subscription", "push")]["dead_letter_policy"]


def _open_ssml_ingress(c: Config) -> None:
    c.locals["functions"]["ssml"]["ingress"] = "ALLOW_ALL"


def _rename_gauge_field(c: Config) -> None:
    c.locals["gauges"]["oldest_queued_seconds"]["field"] = "oldest_age"


def _silence_dead_letters(c: Config) -> None:
    del c.resources[("google_monitoring_alert_policy", "dead_letters")]["notification_channels"]


def _rename_audio(c: Config) -> None:
    c.locals["functions"]["audio_v2"] = c.locals["functions"].pop("audio")


@pytest.mark.parametrize(
    ("breakage", "check"),
    [
        (_publish_ssml_from_webhook, publish_problems),
        (_drop_webhook_secret, settings_problems),
        (_grant_audio_too_little, secret_access_problems),
        (_misname_ssml_topic, topic_problems),
        (_select_offline_tts, settings_problems),
        (_drop_dead_letters, subscription_problems),
        (_open_ssml_ingress, invoker_problems),
        (_rename_audio, entry_point_problems),
        (_rename_gauge_field, monitoring_problems),
        (_silence_dead_letters, monitoring_problems),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_broken_copy_is_noticed(breakage: Any, check: Any) -> None:
    broken = load(VAR_FILES[0]).copy()
    assert check(broken) == []
    breakage(broken)
    assert check(broken) != []


def test_a_secret_literal_is_noticed() -> None:
    leaked = 'x = "postgresql://postgres:hunter2@db.example.supabase.co:5432/postgres"'
    assert secret_literal_problems({"leak.tf": leaked}) != []
