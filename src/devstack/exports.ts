/**
 * The `export` lines that point a shell's `sentinel` and `temporal` at a
 * running dev stack (`npm run demo -- --keep`): each value single-quoted, so
 * a shell takes it literally whatever it holds.
 */
export function shellExports(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`);
}
