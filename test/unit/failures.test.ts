import { strict as assert } from 'node:assert';
import { FAILURE_CODES, failureInfo, failureRecord, NON_RETRYABLE_CODES } from '../../src/domain/failures';

describe('failure catalogue', () => {
  it('gives every code a summary and an actionable remediation', () => {
    for (const code of FAILURE_CODES) {
      const info = failureInfo(code);
      assert.match(code, /^[A-Z][A-Z0-9_]+$/);
      assert.ok(info.summary.length > 10, `${code} summary`);
      assert.ok(info.remediation.length > 20, `${code} remediation`);
    }
  });

  it('marks the errors retrying cannot fix as non-retryable', () => {
    for (const code of ['AMI_NOT_FOUND', 'AWS_CREDENTIALS_REFUSED', 'CONFIG_INVALID', 'INPUT_REFUSED', 'GPU_VENDOR_MISMATCH', 'PROMOTION_CONFLICT', 'CONTROL_PLANE_AUTH_FAILED'] as const) {
      assert.ok(NON_RETRYABLE_CODES.includes(code), code);
    }
    for (const code of ['INSTANCE_CAPACITY_UNAVAILABLE', 'CONTROL_PLANE_UNAVAILABLE', 'CLEANUP_FAILED', 'EVIDENCE_WRITE_FAILED'] as const) {
      assert.ok(!NON_RETRYABLE_CODES.includes(code), code);
    }
  });

  it('keeps details bounded', () => {
    const record = failureRecord('HOST_COMMAND_FAILED', 'x'.repeat(10_000));
    assert.ok(record.detail!.length <= 2000);
    assert.equal(record.remediation, failureInfo('HOST_COMMAND_FAILED').remediation);
  });
});
