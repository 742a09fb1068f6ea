import { useMemo } from 'react';
import { byDay, historyLines, perDay } from '../core/models/counter/history.ts';
import type { EngineClient } from './engine-client.ts';
import { useHistory } from './use-engine.ts';

const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  day: 'numeric',
  month: 'long',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const shortDay = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** `YYYY-MM-DD` → a local noon of that day (safe against DST edges). */
const noonOf = (day: string) => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d, 12);
};

/** Today and yesterday in words; other days by date. */
function dayTitle(day: string, today: string, yesterday: string): string {
  if (day === today) return 'Today';
  if (day === yesterday) return 'Yesterday';
  return dayFormat.format(noonOf(day));
}

/**
 * What was counted on each of the last 30 days as bars: an image named `<name> per day`, its
 * figures also in its description, so the numbers are there without seeing the bars.
 */
function PerDayChart({
  id,
  name,
  days,
}: {
  id: string;
  name: string;
  days: ReturnType<typeof perDay>;
}) {
  const width = 300;
  const height = 64;
  const gap = 2;
  const bar = (width - gap * (days.length - 1)) / days.length;
  // Joined from the server's snapshot: the days before the first change held here are on the
  // server, so they are not drawn (nor described) as days when nothing was counted.
  const first = days.findIndex((d) => d.known);
  const since = first > 0 ? days[first]!.day : undefined;
  const known = days.filter((d) => d.known);
  const most = Math.max(1, ...known.map((d) => Math.abs(d.total)));
  const counted = known.filter((d) => d.total !== 0);
  const scope = since
    ? `Counted per day from ${shortDay.format(noonOf(since))}; the days before are on the sync server.`
    : 'Counted per day, last 30 days.';
  const description =
    counted.length === 0
      ? since
        ? 'Nothing counted since.'
        : 'Nothing counted in the last 30 days.'
      : counted.map((d) => `${shortDay.format(noonOf(d.day))}: ${d.total}`).join(', ');
  return (
    <figure className="chart">
      <svg
        role="img"
        aria-label={`${name} per day`}
        aria-describedby={id}
        viewBox={`0 0 ${width} ${height + 14}`}
        preserveAspectRatio="none"
      >
        {days.map((d, i) => {
          if (!d.known) return null;
          const h = d.total === 0 ? 1 : Math.max(3, (Math.abs(d.total) / most) * height);
          return (
            <rect
              key={d.day}
              data-day={d.day}
              data-total={d.total}
              className={d.total < 0 ? 'bar bar-down' : d.total === 0 ? 'bar bar-none' : 'bar'}
              x={i * (bar + gap)}
              y={height - h}
              width={bar}
              height={h}
            />
          );
        })}
        {/* The first day drawn, where there is room for its date beside "Today". */}
        {first >= 0 && first < days.length - 8 && (
          <text x={first * (bar + gap)} y={height + 12} className="axis">
            {shortDay.format(noonOf(days[first]!.day))}
          </text>
        )}
        <text x={width} y={height + 12} className="axis" textAnchor="end">
          Today
        </text>
      </svg>
      <figcaption id={id} className="small muted">
        {scope} {description}
      </figcaption>
    </figure>
  );
}

export function HistoryPanel({
  client,
  stream,
  name,
}: {
  client: EngineClient;
  stream: string;
  name: string;
}) {
  const entries = useHistory(client, stream);
  const shaped = useMemo(() => {
    if (!entries) return undefined;
    const now = Date.now();
    const days = byDay(historyLines(entries));
    const chart = perDay(entries, now);
    return { days, chart, today: chart.at(-1)!.day, yesterday: chart.at(-2)!.day };
  }, [entries]);
  if (!shaped) return <p className="muted small">Loading history…</p>;
  const { days, chart, today, yesterday } = shaped;
  return (
    <section className="history-panel" aria-label={`${name} history`}>
      <PerDayChart id={`${stream}-per-day`} name={name} days={chart} />
      {/* Focusable, so a keyboard can scroll a long history (WCAG: scrollable regions). */}
      <div
        className="history"
        tabIndex={0}
        role="group"
        aria-label={`${name} changes, newest first`}
      >
        {days.map(({ day, lines }) => (
          <section key={day} className="history-day" aria-label={dayTitle(day, today, yesterday)}>
            <h3>{dayTitle(day, today, yesterday)}</h3>
            <ol>
              {lines.map((line) => (
                <li key={line.key} data-change={line.change}>
                  <span className="what">{line.text}</span>
                  <span className="after">
                    <span className="visually-hidden">value after: </span>
                    {line.value}
                  </span>
                  <time dateTime={new Date(line.time).toISOString()}>
                    {timeFormat.format(line.time)}
                  </time>
                </li>
              ))}
            </ol>
          </section>
        ))}
      </div>
    </section>
  );
}
