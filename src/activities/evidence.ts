import { awsErrorMessage } from '../aws/errors';
import type { EvidenceRecord } from '../domain/evidence';
import type { EvidenceLocation } from '../domain/run';
import { renderEvidenceMarkdown } from '../evidence/markdown';
import { evidenceSchema } from '../evidence/schema';
import { storeEvidence } from '../evidence/store';
import { Context } from '@temporalio/activity';
import { recordRunMetrics } from '../worker/telemetry';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';

export interface EvidenceRequest {
  location: string;
  region: string;
  record: EvidenceRecord;
}

export function evidenceActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  return {
    /** Validates the record against the published schema, renders it, and stores both files. Only the paths go back into history. */
    async writeEvidence(req: EvidenceRequest): Promise<EvidenceLocation> {
      const checked = evidenceSchema.safeParse(req.record);
      if (!checked.success) {
        throw activityFailure(
          'INTERNAL_ERROR',
          `evidence record breaks its schema: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      let stored: EvidenceLocation;
      try {
        stored = await storeEvidence(aws, req.region, req.location, {
          name: req.record.run.workflowId,
          json: `${JSON.stringify(req.record, null, 2)}\n`,
          markdown: renderEvidenceMarkdown(req.record),
        });
      } catch (err) {
        throw activityFailure('EVIDENCE_WRITE_FAILED', `${req.location}: ${awsErrorMessage(err)}`, err);
      }
      // Counted once the run's record is stored: a retried write counts again only if this attempt failed before here.
      recordRunMetrics(Context.current().metricMeter, req.record);
      return stored;
    },
  };
}
