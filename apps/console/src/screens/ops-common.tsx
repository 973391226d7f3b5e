import { Code } from '@mantine/core';

export { Forbidden } from '../forbidden';

/** A value as indented JSON, in a labelled, scrollable block. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <Code block className="json-block" aria-label={label} tabIndex={0}>
      {typeof value === 'string' ? value : JSON.stringify(value, null, 2)}
    </Code>
  );
}

/** A time, local and readable, with the exact instant in the markup. */
export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <>never</>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toISOString()}>
      {d.toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' })}
    </time>
  );
}

/**
 * A small line chart of counts, drawn as SVG (a chart library would add far more code than the
 * one polyline this needs). `label` names it for screen readers, with the total.
 */
export function Sparkline({
  values,
  color,
  label,
  width = 160,
  height = 32,
}: {
  values: number[];
  color: string;
  label: string;
  width?: number;
  height?: number;
}) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return (
    <svg
      width={width}
      height={height}
      role="img"
      aria-label={label}
      viewBox={`0 0 ${width} ${height}`}
    >
      <polyline
        points={points}
        fill="none"
        stroke={`var(--mantine-color-${color}-6)`}
        strokeWidth={1.5}
        strokeLinejoin="round"
      />
    </svg>
  );
}
