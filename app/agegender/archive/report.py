"""DIR/report.html, self-contained (inline SVG, no scripts, nothing fetched), from the folder's tables:
for the whole run and for each input, people per age bucket and gender and people over time, and a
table of the inputs with their status and problems. `agegender report DIR` rebuilds it.

The charts are a few rectangles each, written here: a plotting library as a run-time dependency for two
kinds of bar chart was not worth its size."""
from __future__ import annotations

import html
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from agegender.errors import InputError
from agegender.outputs.safety import write_bytes_atomically

OVER_TIME_BINS = 40  # at most; fewer where the video is shorter than 40 of the shortest stretch
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)  # seconds: stretches a reader can take in
GENDER_COLOURS = {"female": "#c2185b", "male": "#1565c0"}
OTHER_COLOUR = "#757575"


def write_report(out_dir: Path) -> Path:
    try:
        inputs = pq.read_table(out_dir / "inputs.parquet").to_pylist()
        people = pq.read_table(out_dir / "people.parquet").to_pylist()
    except (OSError, ValueError) as exc:  # pyarrow: ArrowInvalid is a ValueError
        raise InputError(f"{out_dir} holds no readable archive tables (inputs.parquet, people.parquet): {exc}; "
                         "run `agegender process INPUT... --out-dir` into it first") from None
    target = Path(out_dir) / "report.html"
    write_bytes_atomically(target, render(inputs, people, Path(out_dir).name).encode("utf-8"), follow_links=False)
    return target


def _bucket_order(label: str) -> int:
    return int(re.match(r"\d+", label).group()) if re.match(r"\d+", label) else 10_000


def render(inputs: list[dict], people: list[dict], title: str) -> str:
    designs = list(dict.fromkeys(p["design"] for p in people))
    design = designs[0] if designs else None
    mine = [p for p in people if p["design"] == design]
    done = [i for i in inputs if i["status"] == "done"]
    totals = {"inputs": len(inputs), "done": len(done),
              **{status: sum(i["status"] == status for i in inputs) for status in ("failed", "missing")},
              "frames": sum(i["frames"] or 0 for i in done),
              "video_seconds": round(sum(i["video_seconds"] or 0 for i in done), 1),
              "faces": sum(i["faces"] or 0 for i in done), "people": len(mine)}
    parts = [f"<h1>{_e(title)}: people seen</h1>",
             f"<p>Made {_e(time.strftime('%Y-%m-%d %H:%M'))} from the folder's tables. A person is a face followed "
             f"for at least a second on a video, or a face on an image. Answers of the {_e(design or '-')} design"
             + (f" (the folder also holds {_e(', '.join(designs[1:]))})" if len(designs) > 1 else "")
             + ". Ages and genders are estimates, often wrong for one person; counts over many people are what "
               "they are for.</p>",
             "<h2>Whole run</h2>", _totals(totals), _charts(mine, "all inputs"),
             "<h2>Inputs</h2>", _inputs_table(inputs)]
    for row in done:
        theirs = [p for p in mine if p["input"] == row["input"]]
        parts.append(f"<h2 id='{_e(row['input'])}'>{_e(row['input'])}</h2>")
        parts.append(f"<p class='counts' data-input='{_e(row['input'])}' data-people='{len(theirs)}'>"
                     f"{len(theirs)} people, {row['faces']} faces in {row['frames']} frames</p>")
        if theirs:
            parts.append(_charts(theirs, row["input"]))
    return _page(title, "\n".join(parts))


def _totals(totals: dict) -> str:
    cells = "".join(f"<td data-total='{name}'>{value}</td>" for name, value in totals.items())
    heads = "".join(f"<th>{name.replace('_', ' ')}</th>" for name in totals)
    return f"<table class='totals'><tr>{heads}</tr><tr>{cells}</tr></table>"


def _inputs_table(inputs: list[dict]) -> str:
    rows = []
    for i in inputs:
        people = "" if i["people"] is None else i["people"]
        rows.append(f"<tr class='{_e(i['status'])}' data-input='{_e(i['input'])}' data-people='{people}'>"
                    f"<td>{_e(i['input'])}</td><td>{_e(i['status'])}</td><td>{i['frames'] or ''}</td>"
                    f"<td>{i['video_seconds'] or ''}</td><td>{people}</td><td>{_e(i['problem'] or '')}</td></tr>")
    return ("<table class='inputs'><tr><th>input</th><th>status</th><th>frames</th><th>video s</th><th>people</th>"
            "<th>problem</th></tr>" + "".join(rows) + "</table>")


def _charts(people: list[dict], what: str) -> str:
    by_group = Counter((p["age_bucket"], p["gender"]) for p in people)
    buckets = sorted({b for b, _ in by_group}, key=_bucket_order)
    genders = sorted({g for _, g in by_group})
    bars = _grouped_bars(buckets, genders, by_group, f"people per age bucket and gender, {what}")
    tracked = [p for p in people if p["dwell_seconds"] is not None]
    return "<div class='charts'>" + bars + (_over_time(tracked, what) if tracked else "") + "</div>"


def _grouped_bars(groups: list[str], series: list[str], counts: Counter, label: str) -> str:
    width, height, top, bottom = 480, 220, 20, 40
    peak = max(counts.values(), default=1)
    slot = (width - 40) / max(len(groups), 1)
    bar = slot * 0.8 / max(len(series), 1)
    shapes = []
    for gi, group in enumerate(groups):
        x0 = 30 + gi * slot + slot * 0.1
        for si, name in enumerate(series):
            count = counts.get((group, name), 0)
            h = (height - top - bottom) * count / peak
            x, y = x0 + si * bar, height - bottom - h
            colour = GENDER_COLOURS.get(name, OTHER_COLOUR)
            shapes.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar - 1:.1f}' height='{h:.1f}' fill='{colour}'>"
                          f"<title>{_e(group)} {_e(name)}: {count}</title></rect>")
            if count:
                shapes.append(f"<text x='{x + bar / 2:.1f}' y='{y - 3:.1f}' font-size='10' "
                              f"text-anchor='middle'>{count}</text>")
        shapes.append(f"<text x='{x0 + slot * 0.4:.1f}' y='{height - bottom + 14}' font-size='11' "
                      f"text-anchor='middle'>{_e(group)}</text>")
    legend = " ".join(f"<tspan fill='{GENDER_COLOURS.get(n, OTHER_COLOUR)}'>■ {_e(n)}</tspan>" for n in series)
    shapes.append(f"<text x='30' y='{height - 8}' font-size='11'>{legend}</text>")
    return _svg(width, height, label, shapes)


def _over_time(people: list[dict], what: str) -> str:
    """People present in each stretch of video time, each input timed from its own start. Inputs are
    separate recordings, never added up: where there are several, a bar is the most present in any one
    input during its stretch."""
    width, height, top, bottom = 480, 220, 20, 40
    by_input: dict[str, list[dict]] = defaultdict(list)
    for p in people:
        by_input[p["input"]].append(p)
    several = len(by_input) > 1
    end = max(p["last_time"] for p in people)
    step = next((s for s in TIME_STEPS if end < s * OVER_TIME_BINS), 3600 * (end // 3600 // OVER_TIME_BINS + 1))
    bins = int(end // step) + 1
    unit, unit_name = next((u, n) for u, n in ((3600, "h"), (60, "min"), (1, "s")) if step % u == 0)
    bar = (width - 40) / bins
    peak = max(_most_at_once(theirs) for theirs in by_input.values())
    present = [max((sum(p["first_time"] < (b + 1) * step and p["last_time"] >= b * step for p in theirs), key)
                   for key, theirs in by_input.items()) for b in range(bins)]
    tallest = max(count for count, _ in present) or 1
    shapes = []
    for b, (count, key) in enumerate(present):
        h = (height - top - bottom) * count / tallest
        stretch = f"{b * step / unit:.0f}-{(b + 1) * step / unit:.0f} {unit_name}"
        shapes.append(f"<rect x='{30 + b * bar:.1f}' y='{height - bottom - h:.1f}' width='{bar - 1:.1f}' "
                      f"height='{h:.1f}' fill='#2e7d32'><title>{stretch}: {count} present"
                      + (f" in {_e(key)}" if several and count else "") + "</title></rect>")
    shapes.append(f"<text x='30' y='{height - bottom + 14}' font-size='11'>0</text>")
    shapes.append(f"<text x='{width - 10}' y='{height - bottom + 14}' font-size='11' text-anchor='end'>"
                  f"{bins * step / unit:.0f} {unit_name}</text>")
    shapes.append(f"<text x='30' y='{top - 5}' font-size='11'>most at once{' in one input' if several else ''}: "
                  f"{peak}</text>")
    label = f"people present over time, {what}" + (
        ": at each time the busiest input's count, never a sum of inputs (each timed from its own start)"
        if several else "")
    return _svg(width, height, label, shapes)


def _most_at_once(people: list[dict]) -> int:
    """The most people of one input present at the same moment (from first_time to last_time, both in)."""
    # at the same time, arrivals (0) are counted before departures (1)
    events = sorted([(p["first_time"], 0) for p in people] + [(p["last_time"], 1) for p in people])
    now = most = 0
    for _, leaving in events:
        now += -1 if leaving else 1
        most = max(most, now)
    return most


def _svg(width: int, height: int, label: str, shapes: list[str]) -> str:
    return (f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
            f"aria-label='{_e(label)}'>{''.join(shapes)}</svg><figcaption>{_e(label)}</figcaption></figure>")


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}: AgeGender Live report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1100px; color: #212121; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
th {{ white-space: nowrap; }}
tr.failed td {{ background: #fdecea; }} tr.missing td {{ background: #eeeeee; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: 0.85em; color: #555; }}
</style></head><body>
{body}
</body></html>
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)
