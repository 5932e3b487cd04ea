"""``select``: rank what could ship to one device under budgets.

    from edgecnn.select import select
    sel = select("profiles", device="local", max_latency_ms=10)
    sel.chosen.label, sel.chosen.top1, sel.ranked[:10], sel.excluded, sel.reason_counts()

``records`` is a records folder, a ``RecordStore`` or Records. No answer is
an answer: when nothing meets the budgets, ``chosen`` is None and
``message`` says which budget binds, the closest option and by how much it
misses (the CLI prints it as its one error line and exits 2).
"""

from __future__ import annotations

import difflib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Union

from edgecnn.errors import EdgeCNNError, InvalidOptionError
from edgecnn.records import LoadReport, Record, RecordStore
from edgecnn.select.commands import rebuild
from edgecnn.select.options import Option, Reason, build_options
from edgecnn.select.rank import (
    FILTERS,
    HARD,
    REASONS,
    Constraints,
    band_verdict,
    beats,
    binding,
    break_accuracy_ties,
    judge,
    order_key,
    trust,
    twins,
)

Records = Union[str, "os.PathLike[str]", RecordStore, Iterable[Record]]


@dataclass
class Selection:
    """The ranking of every option on one device under ``constraints``."""

    device: str
    constraints: Constraints
    ranked: list[Option] = field(default_factory=list)  # eligible, best first
    excluded: list[Option] = field(default_factory=list)  # each with its reasons
    message: str | None = None  # why nothing was chosen (None when something was)
    binding: list[dict[str, Any]] = field(default_factory=list)
    challengers: list[Option] = field(default_factory=list)  # less trusted options that beat the choice
    notes: list[str] = field(default_factory=list)
    profiles_dir: str = "profiles"
    skipped: list[str] = field(default_factory=list)  # unreadable record rows

    @property
    def chosen(self) -> Option | None:
        return self.ranked[0] if self.ranked else None

    @property
    def options(self) -> list[Option]:
        return self.ranked + self.excluded

    def reason_counts(self) -> dict[str, int]:
        """How many excluded options each reason applies to (one option may
        count under several budgets it misses)."""
        counts = Counter(r.code for o in self.excluded for r in o.reasons)
        return {REASONS[code]: n for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}

    def band_verdict(self, opt: Option) -> str | None:
        return band_verdict(opt, self.constraints)

    def rebuild(self) -> dict[str, Any] | None:
        return rebuild(self.chosen, self.profiles_dir) if self.chosen else None

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        def row(o: Option, rank: int | None = None) -> dict[str, Any]:
            d = o.to_dict()
            if rank is not None:
                d["rank"] = rank
            verdict = self.band_verdict(o)
            if verdict:
                d["band_verdict"] = verdict
            return d

        chosen = self.chosen
        return {
            "device": self.device, "constraints": self.constraints.to_dict(),
            "chosen": {**row(chosen, 1), **(self.rebuild() or {})} if chosen else None,
            "message": self.message, "binding": self.binding,
            "ranked": [row(o, i) for i, o in enumerate(self.ranked[:top] if top else self.ranked, 1)],
            "n_eligible": len(self.ranked), "excluded": [row(o) for o in self.excluded],
            "excluded_by_reason": self.reason_counts(),
            "challengers": [row(o) for o in self.challengers], "notes": self.notes, "skipped": self.skipped,
        }


def load_records(records: Records, skipped: list[str] | None = None) -> tuple[list[Record], str]:
    """(the records, the folder they came from or "" for Records given directly)."""
    if isinstance(records, RecordStore):
        folder, shown = records.root, str(records.root)
    elif isinstance(records, (str, os.PathLike)):
        folder, shown = Path(records), os.fspath(records)
    else:
        return list(records), ""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InvalidOptionError(f"records folder {shown} {what}; give --profiles the folder `edgecnn profile`/"
                                 f"`export`/`train` wrote (default profiles/)")
    report = LoadReport()
    out = list(RecordStore(folder).iter(report))
    if skipped is not None:
        skipped.extend(report.skipped)
    return out, str(folder)


def resolve_device(name: str, records: list[Record], where: str = "") -> str:
    """A device with latency records: the exact name, a devices/*.toml alias
    or unique prefix of one, or a unique prefix among the devices with
    records; else a one-line error naming the closest."""
    have = sorted({r.device for r in records if r.kind == "latency" and r.device})
    if name in have:
        return name
    try:
        from edgecnn.devices.spec import resolve_device_name

        full = resolve_device_name(name)
        if full in have:
            return full
    except EdgeCNNError:  # a name no device file knows: the records' names decide
        pass
    hits = [d for d in have if d.startswith(name)]
    if len(hits) == 1:
        return hits[0]
    src = f" under {where}" if where else ""
    if not have:
        raise InvalidOptionError(f"no latency records{src}: run `edgecnn profile --device {name}` first")
    close = difflib.get_close_matches(name, have, n=3, cutoff=0.4) or hits
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise InvalidOptionError(f"no latency records for device {name!r}{src}; {hint}devices with records: "
                             f"{', '.join(have)}")


def select(records: Records, device: str = "local", *, max_latency_ms: float | None = None,
           min_top1: float | None = None, max_size_mb: float | None = None, max_memory_mb: float | None = None,
           dataset: str | None = None, batch: int | None = None, tail: bool = False,
           rank_by: str | None = None) -> Selection:
    """Rank every (model, weights, runtime, format, precision, batch) option on
    ``device`` that meets the budgets (ms, top-1 %, MB of artifact = 10^6 bytes,
    MB of peak process memory); see ``edgecnn.select.rank`` for the rule."""
    c = Constraints(max_latency_ms, min_top1, max_size_mb, max_memory_mb, dataset, batch, tail, rank_by)
    skipped: list[str] = []
    recs, folder = load_records(records, skipped)
    name = resolve_device(device, recs, folder)
    sel = rank(build_options(recs, name, dataset), c, name)
    sel.profiles_dir, sel.skipped = folder or "profiles", skipped
    sel.notes += int8_notes(sel, recs)
    return sel


def int8_notes(sel: Selection, records: list[Record]) -> list[str]:
    """Where an INT8 option is ranked: per runtime, where INT8 paid against
    FP32 among the device's INT8 exports with a measured speed-up."""
    from edgecnn.export.int8_pays import summaries
    from edgecnn.join import newest

    runtimes = {o.runtime for o in sel.ranked if str(o.precision).startswith("int8")}
    if not runtimes:
        return []
    said = summaries(newest(records)[0], sel.device)
    return [text for rt, text in said.items() if rt in runtimes]


def rank(options: list[Option], c: Constraints, device: str) -> Selection:
    """Judge and order ``options`` (all of one device) under ``c``."""
    sel = Selection(device=device, constraints=c)
    measured = twins(options)
    for o in options:
        o.reasons = judge(o, c)
        twin = measured.get(o.configuration) if o.source == "predicted" else None
        if twin is not None and not any(r.code in FILTERS for r in o.reasons):
            o.reasons.append(Reason("measured_twin", f"predicted {o.latency_ms:.3g} ms; measured {twin.latency_ms:.3g} "
                                                     f"ms: a prediction never outranks a measurement of the same "
                                                     f"configuration"))
        (sel.excluded if o.reasons else sel.ranked).append(o)
    sel.ranked.sort(key=lambda o: order_key(o, c))
    if c.ranking == "accuracy":
        sel.ranked = break_accuracy_ties(sel.ranked, c)
    sel.excluded.sort(key=lambda o: (o.reasons[0].code, o.label))
    if sel.ranked:
        best = sel.ranked[0]
        sel.challengers = [o for o in sel.ranked if trust(o) > trust(best) and beats(o, best, c.tail)]
        datasets = sorted({o.dataset for o in sel.ranked if o.dataset})
        if len(datasets) > 1 and c.dataset is None:
            sel.notes.append(f"top-1 figures come from different datasets ({', '.join(datasets)}) and are not "
                             f"comparable across them: give --dataset")
        verdict = band_verdict(best, c)
        if verdict:
            sel.notes.append(f"the choice's latency is predicted; the budget {verdict}")
        if best.weights_here is False:
            sel.notes.append(f"the choice's weights {best.weights} are not on this machine (its figures were "
                             f"measured where they are); copy them here or train them before you ship it")
        return sel
    sel.message, sel.binding = _why_nothing(options, c, device)
    return sel


def _why_nothing(options: list[Option], c: Constraints, device: str) -> tuple[str, list[dict[str, Any]]]:
    if not options:
        return f"no options on {device}: its records hold no latency figure", []
    filtered = [o for o in options if not any(r.code in FILTERS for r in o.reasons)]
    if not filtered:
        have_b = sorted({o.batch for o in options})
        have_d = sorted({o.dataset for o in options if o.dataset})
        what = []
        if c.batch is not None and all(o.batch != c.batch for o in options):
            what.append(f"batch {c.batch} (batches with records: {', '.join(map(str, have_b))})")
        if c.dataset is not None:
            what.append(f"a top-1 on {c.dataset} (datasets with top-1: {', '.join(have_d) or 'none'})")
        return (f"no option on {device} has {' and '.join(what) or 'the batch and dataset asked for'}",
                [{"constraint": "--batch" if c.batch is not None else "--dataset", "option": None}])
    candidates = [o for o in filtered if not any(r.code in HARD for r in o.reasons)]
    if not candidates:
        counts = Counter(REASONS[o.reasons[0].code] for o in filtered)
        return (f"no option on {device} can be chosen before any budget applies: "
                + ", ".join(f"{n} {why}" for why, n in counts.most_common()), [])
    return binding(candidates, c)
