/** One thing `sentinel bootstrap` checks (and creates with --apply), and what it found. */
export type ItemStatus = 'present' | 'created' | 'missing' | 'invalid';

export interface BootstrapItem {
  item: 'instance-profile' | 'approved-digest' | 'amis' | 'network' | 'evidence-store' | 'attestation-key';
  status: ItemStatus;
  detail: string;
  /** What to do about a missing or invalid item. */
  remediation?: string;
}
