"""One Prometheus alerting rule, and a rule file of one group: shared by poolscope's rules
(`alerts.py`) and the rules over SGLang's own metrics (`sglang_alerts.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AlertRule:
    """A rule with its `severity` label and the annotations an operator reads: `summary` says
    what happened, `description` what it costs and what to do."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def to_dict(self) -> dict[str, object]:
        rule: dict[str, object] = {"alert": self.name, "expr": self.expr}
        if self.for_ != "0m":
            rule["for"] = self.for_
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule


def target_down_rule(name: str, job: str, server: str, family: str) -> AlertRule:
    """Fires when Prometheus cannot scrape a target of `job` for a minute; `server` names what
    it scrapes ("runtime"), `family` the alerts that go blind with it ("poolscope")."""
    return AlertRule(
        name=name, expr=f'up{{job="{job}"}} == 0', for_="1m", severity="critical",
        summary="Prometheus cannot scrape {{ $labels.instance }}",
        description=(
            f"The {server}'s /metrics has not answered for a minute: the {server} is down, "
            f"hung, or unreachable, and every other {family} alert is blind. Check the process, "
            "its health endpoint and its logs."
        ),
    )


def rule_file(group: str, rules: Sequence[AlertRule]) -> dict[str, object]:
    """A rule file's content with one group, ready for YAML."""
    return {"groups": [{"name": group, "rules": [r.to_dict() for r in rules]}]}
