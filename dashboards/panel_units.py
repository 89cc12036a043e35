"""The units poolscope's panels draw, one per panel, each with the word its title names it by.

A panel's queries all measure one thing (tests derive it from the catalog unit of every metric a
query reads, and whether the query is a per-second rate): slots next to slots, never next to
requests or sessions, and never a gauge beside a per-interval increase."""

from __future__ import annotations

PERCENT = "percentunit"
SECONDS = "s"
SLOTS = "suffix: slots"
SLOTS_PER_S = "suffix: slots/s"
REQUESTS = "suffix: requests"
REQUESTS_PER_S = "suffix: requests/s"
SESSIONS = "suffix: sessions"
SESSIONS_PER_S = "suffix: sessions/s"
CHECKS = "suffix: checks"
CHECKS_PER_S = "suffix: checks/s"
TOKENS_PER_S = "suffix:tok/s"
INSTANCES = "suffix: instances"  # a count of instances (fleet views)

# What a title says to name its unit (a percent of capacity is a "usage").
TITLE_WORDS = {
    PERCENT: "usage", SECONDS: "seconds", SLOTS: "slots", SLOTS_PER_S: "slots/s",
    REQUESTS: "requests", REQUESTS_PER_S: "requests/s", SESSIONS: "sessions",
    SESSIONS_PER_S: "sessions/s", CHECKS: "checks",
    CHECKS_PER_S: "checks/s", TOKENS_PER_S: "tok/s", INSTANCES: "instances",
}
FLEET = "all selected instances"  # what the title of a panel summed over instances says
