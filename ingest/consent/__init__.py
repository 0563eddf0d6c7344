"""Consent signals: robots.txt, TDMRep, ai.txt, `noai` and Content-Signal, evaluated.

Pure functions over text and `ingest.types.ConsentSignal`s; no network, no database.

- `robots`       RFC 9309 robots.txt: verdict per URL and agent with the deciding rule,
                 block level per agent, Content-Signal lines; read by `robots_parser`,
                 paths matched by `paths`, JSON-lines questions answered by `robots_batch`.
- `tdmrep`       W3C TDMRep: tdmrep.json rules, header and meta declarations, precedence.
- `aitxt`        Spawning's ai.txt: is the text at a URL refused for AI training.
- `reservation`  all of the above for one document, with the evidence behind it.
- `agents`       the AI crawlers evaluated by default.

Errors a user can cause (all are ValueError):

    ValueError
    ├── InvalidAgentError   an agent that is not a product token ("GPTBot", "*")
    └── TdmRepError         a tdmrep.json that is not an array of valid rules
"""

from ingest.consent.agents import DEFAULT_AI_AGENTS
from ingest.consent.aitxt import AiTxt, AiTxtVerdict, parse_ai_txt
from ingest.consent.reservation import USES, Evidence, Reservation, resolve_reservation
from ingest.consent.robots import (
    AgentVerdict,
    BlockLevel,
    Robots,
    RobotsVerdict,
    evaluate_agents,
    parse_robots,
    stricter,
)
from ingest.consent.robots_batch import check_batch
from ingest.consent.robots_parser import Group, InvalidAgentError, Rule
from ingest.consent.tdmrep import (
    TdmDecision,
    TdmRepError,
    TdmRule,
    parse_tdmrep_json,
    resolve_tdm,
    tdm_for_url,
)

__all__ = [
    "DEFAULT_AI_AGENTS",
    "USES",
    "AgentVerdict",
    "AiTxt",
    "AiTxtVerdict",
    "BlockLevel",
    "Evidence",
    "Group",
    "InvalidAgentError",
    "Reservation",
    "Robots",
    "RobotsVerdict",
    "Rule",
    "TdmDecision",
    "TdmRepError",
    "TdmRule",
    "check_batch",
    "evaluate_agents",
    "parse_ai_txt",
    "parse_robots",
    "parse_tdmrep_json",
    "resolve_reservation",
    "resolve_tdm",
    "stricter",
    "tdm_for_url",
]
