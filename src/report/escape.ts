/**
 * Everything the report prints from an evidence pack passes through here:
 * evidence is data written by runs (and, in S3, by whoever can write the
 * bucket), never markup.
 */
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text content and attribute values (always written double-quoted). */
export function esc(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : value == null
          ? ''
          : JSON.stringify(value);
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);
}

/** A link target: only http(s) and relative page links; anything else becomes inert. */
export function safeHref(url: string): string {
  return /^https?:\/\//i.test(url) || /^[A-Za-z0-9._/-]+\.html(#[A-Za-z0-9_-]*)?$/.test(url) ? esc(url) : '#';
}

/** A file name for a run page: the workflow id with anything unusual replaced, so it stays inside the output directory. */
export function pageName(workflowId: string): string {
  return `${workflowId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_')}.html`;
}
