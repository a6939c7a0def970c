/**
 * The installer service's Prometheus metrics (`GET /metrics`, text format):
 *
 *   sentinel_installer_responses_total{environment,status,result}
 *     installer answers, by HTTP status and by what they said: `installed`,
 *     or the endpoint error name the script exits with (APPROVED_DIGEST_*,
 *     ONBOARDING_TOKEN_INVALID, ...; docs/installer.md).
 *
 * The pointer problems (APPROVED_DIGEST_MISSING / _INVALID) answer HTTP 200 so
 * that `curl -f | sh` runs the explaining script: alert on `result`, not only
 * on `status` (deploy/prometheus/sentinel-alerts.yml). A counter kept by hand:
 * one Map lookup per request keeps the installer's throughput.
 */
import { INSTALLER_ERRORS } from '../domain/installer';

export const METRICS_PATH = '/metrics';
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class InstallerMetrics {
  private readonly responses = new Map<string, number>();

  constructor(private readonly environment: string) {
    // Every answer the endpoint itself can give starts at 0, so the first of each is an increase Prometheus sees.
    this.responses.set(`200\u0000installed`, 0);
    for (const [name, info] of Object.entries(INSTALLER_ERRORS)) {
      if ('httpStatus' in info) this.responses.set(`${info.httpStatus}\u0000${name}`, 0);
    }
  }

  /** One installer answer; `result` is `installed` or the endpoint error name. */
  countResponse(status: number, result: string): void {
    const key = `${status}\u0000${result}`;
    this.responses.set(key, (this.responses.get(key) ?? 0) + 1);
  }

  /** The Prometheus text exposition of every counter. */
  render(): string {
    const lines = [
      '# HELP sentinel_installer_responses_total Installer endpoint answers, by HTTP status and result (installed, or the endpoint error name).',
      '# TYPE sentinel_installer_responses_total counter',
    ];
    for (const [key, value] of [...this.responses.entries()].sort()) {
      const [status, result] = key.split('\u0000') as [string, string];
      lines.push(
        `sentinel_installer_responses_total{environment="${escapeLabel(this.environment)}",status="${status}",result="${escapeLabel(result)}"} ${value}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
