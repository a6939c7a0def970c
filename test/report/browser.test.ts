/**
 * The report in a real headless browser (Debian's chromium, driven by
 * playwright-core): index and run pages load from file:// with no console
 * error and no request beyond the page's own files, and every chart has one
 * point per run, counted from the fixture's JSON independently of the
 * report's code. Screenshots land in test-output/report/.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { launchChromium, type Browser, type Page } from './chromium';
import { FIXTURE, fixturePacks, OUTPUT, sentinelReport } from './support';

const CHROMIUM = process.env.SENTINEL_CHROMIUM ?? '/usr/bin/chromium';
const SITE = path.join(OUTPUT, 'site');
const UI = 'http://localhost:8233';

/** Opens a page, collecting console errors, page errors and any request that is not a local file. */
async function open(browser: Browser, file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  return { page, problems };
}

const legsOf = (pack: any) => pack.legs as any[];
const attemptsOf = (leg: any): any[] => [...(leg.earlierAttempts ?? []), leg];

describe('sentinel report in a headless browser', function () {
  this.timeout(120_000);
  const packs = fixturePacks();
  const targets = [...new Set(packs.flatMap((p) => legsOf(p).map((l) => l.target)))].sort();
  let browser: Browser;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: run scripts/ensure-tools.sh as root (it installs Debian's chromium), or set SENTINEL_CHROMIUM`,
    );
    rmSync(SITE, { recursive: true, force: true });
    mkdirSync(OUTPUT, { recursive: true });
    const built = await sentinelReport(['--env', 'local', '--out', SITE, '--evidence', FIXTURE], {
      TEMPORAL_UI_URL: UI,
    });
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stdout, new RegExp(`open ${path.join(SITE, 'index.html').replace(/[.]/g, '\\.')}`));
    browser = await launchChromium(CHROMIUM);
  });

  after(async () => {
    await browser?.close();
  });

  it('the fixture spans several weeks, several targets and every verdict, older evidence versions included', () => {
    const starts = packs.map((p) => Date.parse(p.run.startedAt));
    assert.ok(Math.max(...starts) - Math.min(...starts) > 28 * 86_400_000, 'at least four weeks');
    assert.ok(targets.length >= 3, targets.join());
    for (const verdict of ['passed', 'failed', 'inconclusive', 'cancelled'])
      assert.ok(
        packs.some((p) => p.verdict === verdict),
        verdict,
      );
    assert.ok(
      packs.some((p) => p.cost === undefined && p.preflight === undefined),
      'a pack of the first evidence version',
    );
  });

  it('index.html: one table row per run, one point per run in every chart, no console error, no network', async () => {
    const { page, problems } = await open(browser, path.join(SITE, 'index.html'));
    await page.screenshot({ path: path.join(OUTPUT, 'index.png'), fullPage: true });

    assert.equal(await page.locator('#runs tbody tr').count(), packs.length);
    const pointsOf = (chart: string, target: string) =>
      page
        .locator(`svg[data-chart="${chart}"][data-target="${target}"] .point`)
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-run')).sort());
    const ids = (selected: any[]) => selected.map((p) => p.run.workflowId).sort();

    assert.deepEqual(await pointsOf('outcomes', 'all'), ids(packs));
    assert.deepEqual(
      await pointsOf('run-cost', 'all'),
      ids(packs.filter((p) => typeof p.cost?.usd === 'number')),
    );
    for (const target of targets) {
      const withTarget = packs.filter((p) => legsOf(p).some((l) => l.target === target));
      const leg = (p: any) => legsOf(p).find((l) => l.target === target);
      assert.ok(withTarget.length > 0);
      assert.deepEqual(await pointsOf('outcomes', target), ids(withTarget), `${target} outcomes`);
      assert.deepEqual(
        await pointsOf('time-to-active', target),
        ids(withTarget.filter((p) => typeof leg(p).onboarding?.timeToActiveSeconds === 'number')),
        `${target} time to active`,
      );
      assert.deepEqual(await pointsOf('leg-duration', target), ids(withTarget), `${target} leg duration`);
      assert.deepEqual(
        await pointsOf('phase-durations', target),
        ids(withTarget),
        `${target} phase durations`,
      );
      assert.deepEqual(
        await pointsOf('leg-cost', target),
        ids(withTarget.filter((p) => attemptsOf(leg(p)).some((a) => typeof a.cost?.usd === 'number'))),
        `${target} cost`,
      );
      // A point's height is the evidence's figure: the time to active of the newest run.
      const newest = withTarget
        .filter((p) => leg(p).onboarding)
        .sort((a, b) => Date.parse(b.run.startedAt) - Date.parse(a.run.startedAt))[0];
      const value = await page
        .locator(
          `svg[data-chart="time-to-active"][data-target="${target}"] .point[data-run="${newest.run.workflowId}"]`,
        )
        .getAttribute('data-value');
      assert.equal(Number(value), leg(newest).onboarding.timeToActiveSeconds);
    }
    assert.deepEqual(problems, []);
  });

  it("the filters show only the runs of a verdict, of a target, and only that target's charts", async () => {
    const { page, problems } = await open(browser, path.join(SITE, 'index.html'));
    const visibleRows = () => page.locator('#runs tbody tr:not([hidden])').count();
    await page.selectOption('#f-verdict', 'failed');
    assert.equal(await visibleRows(), packs.filter((p) => p.verdict === 'failed').length);
    assert.equal(
      await page.locator('#shown').textContent(),
      String(packs.filter((p) => p.verdict === 'failed').length),
    );
    await page.selectOption('#f-verdict', '');
    await page.selectOption('#f-target', 'nvidia-l4');
    assert.equal(
      await visibleRows(),
      packs.filter((p) => legsOf(p).some((l) => l.target === 'nvidia-l4')).length,
    );
    assert.ok(
      (await visibleRows()) < packs.length,
      'the target filter hides the runs before that target joined',
    );
    assert.equal(await page.locator('section.target[data-target="amd-v520"]').isVisible(), false);
    assert.equal(await page.locator('section.target[data-target="nvidia-l4"]').isVisible(), true);
    assert.deepEqual(problems, []);
  });

  it('a run page: a Gantt bar per timed phase of every attempt, the janitor, the promotion, Web UI links', async () => {
    const pack = packs.find(
      (p) => p.verdict === 'inconclusive' && p.janitor && legsOf(p).some((l) => l.earlierAttempts?.length),
    );
    assert.ok(pack, 'the fixture has an inconclusive run with a retried leg');
    const { page, problems } = await open(browser, path.join(SITE, 'runs', `${pack.run.workflowId}.html`));
    await page.screenshot({ path: path.join(OUTPUT, 'run.png'), fullPage: true });
    const timed = legsOf(pack)
      .flatMap(attemptsOf)
      .flatMap((a) => a.phases)
      .filter((p: any) => p.startedAt).length;
    assert.equal(await page.locator('svg[data-chart="gantt"] rect.bar').count(), timed);
    assert.equal(
      await page.locator('svg[data-chart="gantt"] rect.bar[data-attempt="1"][data-outcome="failed"]').count(),
      1,
    );
    assert.equal(await page.locator('svg[data-chart="gantt"] [data-marker="janitor"]').count(), 1);
    const links = await page.locator('a.webui').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
    assert.ok(
      links.includes(
        `${UI}/namespaces/default/workflows/${encodeURIComponent(pack.run.workflowId)}/${pack.run.runId}/history`,
      ),
      links.join('\n'),
    );
    assert.equal(links.length, legsOf(pack).length + 2, 'the run, each leg and the janitor');
    const text = await page.locator('body').innerText();
    assert.match(text, /HOST_READY_TIMEOUT/);
    assert.match(
      text,
      new RegExp(`before\\s+${pack.approvedDigest.before.reference.replace(/[.]/g, '\\.')}`),
    );
    assert.doesNotMatch(text, /not recorded in this evidence version/);
    assert.deepEqual(problems, []);
  });

  it('a run page of the first evidence version says what it did not record', async () => {
    const pack = packs.find(
      (p) => p.preflight === undefined && p.janitor === undefined && p.cost === undefined,
    );
    const { page, problems } = await open(browser, path.join(SITE, 'runs', `${pack.run.workflowId}.html`));
    const text = await page.locator('body').innerText();
    for (const section of ['Preflight', 'Janitor', 'Cost', 'Attestation']) {
      assert.match(text, new RegExp(`${section}\\s+not recorded in this evidence version`), section);
    }
    assert.equal(
      await page.locator('svg[data-chart="gantt"] rect.bar').count(),
      legsOf(pack)
        .flatMap((l) => l.phases)
        .filter((p: any) => p.startedAt).length,
    );
    assert.deepEqual(problems, []);
  });
});
