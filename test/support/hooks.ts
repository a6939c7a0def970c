import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopSharedStack } from './stack';
import { stopAllWorkers } from './worker';

// Activity failures are what many tests provoke on purpose; show only errors (SENTINEL_TEST_LOG_LEVEL=INFO for more).
Runtime.install({
  logger: new DefaultLogger((process.env.SENTINEL_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR'),
});

// Every `sentinel` the suite starts (bin/sentinel.js) runs the source under test, never a dist/ that an
// earlier `npm run build` left behind; the production-shape tier runs its own fresh build in-process.
process.env.SENTINEL_CLI_FROM_SOURCE = '1';

// Root hooks: whatever a test started is stopped when the suite ends.
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopAllWorkers();
    await stopSharedStack();
  },
};
