// age: upstream's human-readable durations (`47s`, `5m10s`, `2d5h`) for AGE and other time columns.

/**
 * humanDuration is upstream's duration.HumanDuration: ~2-3 significant figures.
 * Worked examples: 47s → `47s`, 119s → `119s`, 5m10s → `5m10s`, 10m30s → `10m`, 3h → `3h`,
 * 7h59m → `7h59m`, 8h30m → `8h`, 53h → `2d5h`, 30d → `30d`, 2y40d → `2y40d`, 10y → `10y`.
 * Less than -1s is `<invalid>`; between -2s and 0 (clock skew) is `0s`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** parseTime reads an RFC 3339 timestamp; undefined for a missing or unparsable one (upstream's zero time). */
export function parseTime(ts: string | null | undefined): number | undefined {
  if (!ts) return undefined;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? undefined : t;
}

/** translateTimestampSince is the time since ts as humanDuration, or `<unknown>` when ts is missing. */
export function translateTimestampSince(ts: string | null | undefined, now: Date): string {
  const t = parseTime(ts);
  return t === undefined ? '<unknown>' : humanDuration(now.getTime() - t);
}
