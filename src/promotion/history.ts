/** The approved pointer's history: every version SSM kept, for the overwrite check and the rollback. */
import { GetParameterHistoryCommand, type ParameterHistory } from '@aws-sdk/client-ssm';
import type { ApprovedDigestRef, SsmClients } from './pointer';

/** Every version the parameter kept, as SSM returns them (oldest first). */
export async function approvedDigestHistory(
  aws: SsmClients,
  ref: ApprovedDigestRef,
): Promise<ParameterHistory[]> {
  const entries: ParameterHistory[] = [];
  let nextToken: string | undefined;
  do {
    const out = await aws
      .ssm(ref.region)
      .send(new GetParameterHistoryCommand({ Name: ref.parameter, MaxResults: 50, NextToken: nextToken }));
    entries.push(...(out.Parameters ?? []));
    nextToken = out.NextToken;
  } while (nextToken);
  return entries;
}
