/** A `datetime-local` field's value (the browser's time zone) as ISO 8601; undefined when empty. */
export const toIso = (local: string): string | undefined =>
  local && !Number.isNaN(Date.parse(local)) ? new Date(local).toISOString() : undefined;

/** An ISO 8601 time as a `datetime-local` field's value (the browser's time zone). */
export function toLocal(iso: string | undefined): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
