import { strict as assert } from 'node:assert';
import {
  FAILURE_CODES,
  failureInfo,
  failureKind,
  failureRecord,
  INFRA_CODES,
  NON_RETRYABLE_CODES,
} from '../../src/domain/failures';

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
    for (const code of [
      'AMI_NOT_FOUND',
      'AWS_CREDENTIALS_REFUSED',
      'CONFIG_INVALID',
      'INPUT_REFUSED',
      'GPU_VENDOR_MISMATCH',
      'PROMOTION_CONFLICT',
      'CONTROL_PLANE_AUTH_FAILED',
    ] as const) {
      assert.ok(NON_RETRYABLE_CODES.includes(code), code);
    }
    for (const code of [
      'INSTANCE_CAPACITY_UNAVAILABLE',
      'CONTROL_PLANE_UNAVAILABLE',
      'CLEANUP_FAILED',
      'EVIDENCE_WRITE_FAILED',
    ] as const) {
      assert.ok(!NON_RETRYABLE_CODES.includes(code), code);
    }
  });

  it('marks every code infra or candidate, none left unmarked', () => {
    for (const code of FAILURE_CODES) {
      assert.ok(
        ['infra', 'candidate'].includes(failureKind(code)),
        `${code} is marked ${String(failureKind(code))}`,
      );
    }
    assert.ok(INFRA_CODES.length > 0 && INFRA_CODES.length < FAILURE_CODES.length);
  });

  it('marks the infrastructure reasons infra (retried, then inconclusive) and the findings of a trial candidate', () => {
    // Capacity exhausted everywhere, host never ready, SSM agent never online, a setup mirror unreachable, a throttled API past its budget.
    for (const code of [
      'HOST_SETUP_MIRROR_UNREACHABLE',
      'INSTANCE_CAPACITY_UNAVAILABLE',
      'PROVISION_FAILED',
      'PROVISION_TIMEOUT',
      'INSTANCE_NOT_RUNNING',
      'HOST_READY_TIMEOUT',
      'HOST_COMMAND_FAILED',
      'INSTALLER_DOWNLOAD_FAILED',
      'CONTROL_PLANE_UNAVAILABLE',
      'LEG_CRASHED',
    ] as const) {
      assert.equal(failureKind(code), 'infra', code);
    }
    for (const code of [
      'HOST_SETUP_FAILED',
      'GPU_DRIVER_MISSING',
      'GPU_DRIVER_ERROR',
      'GPU_TOOL_MISSING',
      'CONTAINER_RUNTIME_MISSING',
      'INSTALLER_FAILED',
      'IMAGE_PULL_FAILED',
      'INSTALLED_DIGEST_MISMATCH',
      'ONBOARDING_TIMEOUT',
      'SMOKE_JOB_FAILED',
    ] as const) {
      assert.equal(failureKind(code), 'candidate', code);
    }
  });

  it('keeps details bounded', () => {
    const record = failureRecord('HOST_COMMAND_FAILED', 'x'.repeat(10_000));
    assert.ok(record.detail!.length <= 2000);
    assert.equal(record.remediation, failureInfo('HOST_COMMAND_FAILED').remediation);
  });
});
