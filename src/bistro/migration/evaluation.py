"""Flag evaluation: one function, ``evaluate(flag, subject) -> Decision``, from a snapshot.

The snapshot is immutable and compiled once per change (database state + environment pins),
so evaluating is a few dict lookups and at most one MurmurHash3: well under 2 microseconds.

Precedence, first match wins:
1. an environment pin for this subject   (``API_V4_<GROUP>_USER_<id>``)      -> ``env_pin``
2. an environment pin for the flag        (``API_V4_<GROUP>=true|false``)    -> ``env_pin``
3. stage ``disabled`` (everyone v3) or ``complete`` (everyone v4)            -> ``stage ...``
4. a database override for this subject (testers are overrides)              -> ``override``
5. stage ``testing`` (v3 for non-testers), ``full`` (v4)                     -> ``stage ...``
6. stage ``partial``: the sticky bucket    -> ``bucket 37 <= 40`` or ``bucket 77 > 40``
``API_V4_<GROUP>_ROLLOUT=<pct>`` pins stage ``partial`` at that percentage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mmh3

from bistro.migration.env import EnvPins
from bistro.migration.flags import DEFAULTS, SUB_FEATURE_FLAGS, Flag, Stage, Version

V3 = Version.V3
V4 = Version.V4
ALL_SUB_FEATURES_ON = (True, True, True)  # (cache, validation, error handling)


def rollout_bucket(group_id: str, subject: str) -> int:
    """Unleash's sticky bucket: MurmurHash3 x86_32 of ``"<group>:<subject>"``, seed 0, 1..100."""
    return int(mmh3.hash(f"{group_id}:{subject}", 0, signed=False)) % 100 + 1


def in_rollout(bucket: int, percentage: float) -> bool:
    return bucket <= percentage


@dataclass(frozen=True, slots=True)
class Decision:
    version: Version
    reason: str

    @property
    def v4(self) -> bool:
        return self.version is V4


@dataclass(frozen=True)
class FlagState:
    """What the database (or the defaults) say about one flag."""

    flag: Flag
    stage: Stage
    percentage: float
    description: str = ""
    updated_at: Any = None
    updated_by: str = "default"
    from_database: bool = False
    overrides: dict[str, Version] = field(default_factory=dict)

    @classmethod
    def default(cls, flag: Flag) -> FlagState:
        d = DEFAULTS[flag]
        return cls(flag, d.stage, d.percentage)


class CompiledFlag:
    """One flag's effective rules, merged from database state and environment pins."""

    __slots__ = (
        "by_bucket",
        "constant",
        "flag",
        "group_id",
        "percentage",
        "prefix",
        "stage",
        "subject_decisions",
    )

    def __init__(self, state: FlagState, pins: EnvPins) -> None:
        flag_pins = pins.for_flag(state.flag)
        self.flag = state.flag
        self.set_group_id(state.flag.value)
        self.stage = state.stage
        self.percentage = state.percentage
        if flag_pins.rollout is not None:
            self.stage, self.percentage = Stage.PARTIAL, flag_pins.rollout
        # Per-subject answers, env pins over database overrides (and none at a fixed stage).
        decisions: dict[str, Decision] = {}
        fixed = flag_pins.enabled is not None or self.stage in (Stage.DISABLED, Stage.COMPLETE)
        if not fixed:
            for subject, version in state.overrides.items():
                decisions[subject] = Decision(version, "override")
        for subject, on in flag_pins.users.items():
            decisions[subject] = Decision(V4 if on else V3, "env_pin")
        self.subject_decisions = decisions
        # The answer for every subject without an entry above, when it needs no bucket.
        self.constant: Decision | None
        if flag_pins.enabled is not None:
            self.constant = Decision(V4 if flag_pins.enabled else V3, "env_pin")
        elif self.stage in (Stage.DISABLED, Stage.TESTING):
            self.constant = Decision(V3, f"stage {self.stage.value}")
        elif self.stage in (Stage.FULL, Stage.COMPLETE):
            self.constant = Decision(V4, f"stage {self.stage.value}")
        else:
            self.constant = None
        # Partial: every bucket's decision made once here, reason included, so evaluating
        # is one hash and one tuple index (no formatting, no allocation).
        pct = self.percentage
        self.by_bucket: tuple[Decision, ...] = ()
        if self.constant is None:
            self.by_bucket = (
                Decision(V3, "no bucket"),
                *(
                    Decision(V4, f"bucket {b} <= {pct:g}")
                    if b <= pct
                    else Decision(V3, f"bucket {b} > {pct:g}")
                    for b in range(1, 101)
                ),
            )

    def set_group_id(self, group_id: str) -> None:
        """The hash namespace (the flag's name; Unleash calls it groupId)."""
        self.group_id = group_id
        self.prefix = group_id + ":"

    @property
    def subject_free(self) -> bool:
        """True when every subject gets the same answer (no subject resolution needed)."""
        return self.constant is not None and not self.subject_decisions


class Snapshot:
    """Every flag's compiled rules at one version of the database state."""

    __slots__ = (
        "compiled",
        "pins",
        "states",
        "sub_features",
        "sub_features_subject_free",
        "subject_free_routing",
        "version",
    )

    def __init__(self, states: dict[Flag, FlagState], pins: EnvPins, version: int) -> None:
        self.states = {flag: states.get(flag) or FlagState.default(flag) for flag in Flag}
        self.pins = pins
        self.version = version
        self.compiled = {flag: CompiledFlag(self.states[flag], pins) for flag in Flag}
        # The router asks this on every request: answered once per snapshot.
        self.sub_features_subject_free = all(
            self.compiled[flag].subject_free for flag in SUB_FEATURE_FLAGS
        )
        # ...and when it is, the answers themselves: (cache, validation, error_handling) on v4.
        self.sub_features: tuple[bool, ...] | None = None
        if self.sub_features_subject_free:
            answers = tuple(evaluate(self, flag, None).v4 for flag in SUB_FEATURE_FLAGS)
            # The one shared tuple when all are on, so the router tests it by identity.
            self.sub_features = ALL_SUB_FEATURES_ON if all(answers) else answers
        # Per endpoint-group flag: does a stable-path request need its subject at all?
        # (Not when the master switch, the group and the sub-features answer everyone alike.)
        enabled_free = self.compiled[Flag.ENABLED].subject_free
        self.subject_free_routing = {
            flag: self.sub_features_subject_free and enabled_free and rules.subject_free
            for flag, rules in self.compiled.items()
        }

    def evaluate(self, flag: Flag, subject: str | None) -> Decision:
        return evaluate(self, flag, subject)


def evaluate(snapshot: Snapshot, flag: Flag, subject: str | None) -> Decision:
    """The version ``subject`` gets for ``flag``, with the reason. ``None``: no subject known."""
    rules = snapshot.compiled[flag]
    if subject is not None and rules.subject_decisions:
        decided = rules.subject_decisions.get(subject)
        if decided is not None:
            return decided
    if rules.constant is not None:
        return rules.constant
    if subject is None:
        return _NO_SUBJECT
    return rules.by_bucket[mmh3.hash(rules.prefix + subject, 0, False) % 100 + 1]


_NO_SUBJECT = Decision(V3, "no subject")
