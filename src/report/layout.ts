/** The frame of every report page: one self-contained HTML file, its styles inline, nothing fetched. */
import { esc } from './escape';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2228;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.sub{color:#5b6570;margin:0 0 16px}a{color:#0b5cad}
table{border-collapse:collapse;margin:6px 0}th,td{padding:4px 8px;border-bottom:1px solid #e3e7eb;text-align:left;vertical-align:top}th{background:#f4f6f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.v{font-weight:600;padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.v-passed{background:#2e7d32}.v-failed{background:#c62828}.v-inconclusive{background:#ef8f00}.v-cancelled{background:#757575}.v-other{background:#5e35b1}
.missing{color:#8a6d00;font-style:italic}
.warn{background:#fff4d6;border:1px solid #e6c65c;padding:6px 10px;margin:8px 0}
.filters{margin:8px 0}.filters label{margin-right:16px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}.chart-box{margin:0 0 8px}.chart-box .note{color:#5b6570;font-size:12px;margin:2px 0 0}
svg.chart{background:#fff;display:block}
svg .grid{stroke:#edf0f3;stroke-width:1}svg .frame{fill:none;stroke:#b9c1c9}svg .tick{font-size:10px;fill:#5b6570}
svg .series{fill:none;stroke:#8795a3;stroke-width:1.2}svg .row-label{font-size:12px}svg .marker{stroke:#5e35b1;stroke-dasharray:3 3}
.legend span{display:inline-block;margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
`;

export function page(title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
${script ? `<script>${script}</script>` : ''}
</body>
</html>
`;
}

export function verdictBadge(verdict: string, cls: string): string {
  return `<span class="v v-${esc(cls)}">${esc(verdict.toUpperCase())}</span>`;
}
