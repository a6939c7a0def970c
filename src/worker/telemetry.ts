/**
 * The worker's observability, from environment variables:
 *   SENTINEL_METRICS_ADDRESS  host:port of the Prometheus endpoint (/metrics); unset: no metrics
 *   SENTINEL_LOG_LEVEL        TRACE, DEBUG, INFO (default), WARN or ERROR
 *
 * Every log line, the SDK's own (core included) and Sentinel's, is one JSON
 * object on stdout: {"ts","level","message",...fields}. Metrics are the SDK's
 * (docs/observability.md lists those that matter) plus Sentinel's fleet
 * gauges, refreshed from Temporal's visibility store, and the alert counter
 * `sentinel_cleanup_incomplete` (CLEANUP_INCOMPLETE_METRIC), which the leg
 * workflow emits through this runtime's meter for every machine or test
 * cluster a failed cleanup may have left.
 */
import type { Client } from '@temporalio/client';
import type { LogLevel, LogMetadata, MetricGauge, MetricMeter } from '@temporalio/common';
import type { EvidenceRecord } from '../domain/evidence';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry } from '@temporalio/worker';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export interface TelemetrySettings {
  /** `host:port` the Prometheus exporter binds to. */
  metricsAddress?: string;
  logLevel: LogLevel;
}

export class TelemetrySettingsError extends Error {}

export function telemetrySettings(env: NodeJS.ProcessEnv = process.env): TelemetrySettings {
  const level = (env.SENTINEL_LOG_LEVEL || 'INFO').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new TelemetrySettingsError(
      `SENTINEL_LOG_LEVEL=${env.SENTINEL_LOG_LEVEL}: expected one of ${LEVELS.join(', ')}`,
    );
  }
  const address = env.SENTINEL_METRICS_ADDRESS;
  if (address !== undefined && address !== '') {
    const match = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
    if (!match || Number(match[1]) > 65535) {
      throw new TelemetrySettingsError(
        `SENTINEL_METRICS_ADDRESS=${address}: expected host:port, e.g. 0.0.0.0:9464`,
      );
    }
    return { metricsAddress: address, logLevel: level };
  }
  return { logLevel: level };
}

/** One log entry as one JSON line. Values that cannot be serialised become strings. */
export function jsonLogLine(entry: LogEntry): string {
  const { sdkComponent, ...meta } = (entry.meta ?? {}) as LogMetadata & { sdkComponent?: string };
  const line: Record<string, unknown> = {
    ts: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level.toLowerCase(),
    message: entry.message,
    ...(sdkComponent ? { component: sdkComponent } : {}),
  };
  for (const [key, value] of Object.entries(meta)) {
    if (key in line) continue;
    line[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  try {
    return JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ ts: line.ts, level: line.level, message: entry.message, unserialisable: true });
  }
}

/** Installs the process-wide Temporal runtime: JSON logs, and Prometheus metrics when asked for. Call once, first. */
export function installTelemetry(settings: TelemetrySettings): void {
  Runtime.install({
    logger: new DefaultLogger(settings.logLevel, (entry) => {
      process.stdout.write(`${jsonLogLine(entry)}\n`);
    }),
    telemetryOptions: {
      logging: {
        forward: {},
        filter: makeTelemetryFilterString({
          core: settings.logLevel === 'TRACE' || settings.logLevel === 'DEBUG' ? settings.logLevel : 'WARN',
          other: 'ERROR',
        }),
      },
      ...(settings.metricsAddress
        ? { metrics: { prometheus: { bindAddress: settings.metricsAddress } } }
        : {}),
    },
  });
}

/** How often the fleet gauges are recomputed (one visibility count each). */
export const FLEET_GAUGE_INTERVAL_MS = 5_000;

/**
 * `sentinel_runs_running` and `sentinel_legs_running`: open matrix runs and
 * hardware legs on this worker's task queue, counted by Temporal's visibility
 * store, so the value holds whichever worker runs them (every replica reports
 * the same number: aggregate with max, not sum).
 */
export function startFleetGauges(
  client: Client,
  taskQueue: string,
  intervalMs = FLEET_GAUGE_INTERVAL_MS,
): { stop(): void } {
  const meter = Runtime.instance().metricMeter;
  const gauges: Array<[MetricGauge, string]> = [
    [
      meter.createGauge('sentinel_runs_running', 'int', '', 'Matrix runs open on the task queue'),
      'gpuMatrixWorkflow',
    ],
    [
      meter.createGauge(
        'sentinel_legs_running',
        'int',
        '',
        'Hardware legs (one per target and run) open on the task queue',
      ),
      'hardwareLegWorkflow',
    ],
  ];
  const queue = taskQueue.replace(/'/g, "\\'");
  const refresh = async () => {
    for (const [gauge, workflowType] of gauges) {
      try {
        const { count } = await client.workflow.count(
          `WorkflowType = '${workflowType}' AND ExecutionStatus = 'Running' AND TaskQueue = '${queue}'`,
        );
        gauge.set(count, { task_queue: taskQueue });
      } catch (err) {
        Runtime.instance().logger.warn('fleet gauge not refreshed', {
          metric: workflowType,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * A finished run in numbers, recorded once its evidence is stored:
 *   sentinel_runs_completed{environment,verdict}            runs, by verdict (inconclusive among them)
 *   sentinel_legs_completed{environment,target,outcome}     legs, by outcome
 *   sentinel_leg_infra_retries{environment,target}          attempts after an infrastructure failure
 *   sentinel_run_instance_seconds{environment}              histogram: instance-seconds of the run's machines (_sum: the total)
 *   sentinel_run_leaked_instance_seconds{environment}       histogram: the part after the legs had ended
 *   sentinel_run_cost_usd{environment}                      histogram: USD at the configured on-demand prices
 */
export function recordRunMetrics(meter: MetricMeter, record: EvidenceRecord): void {
  const environment = record.run.environment;
  meter
    .createCounter('sentinel_runs_completed', '', 'Matrix runs finished, by verdict')
    .add(1, { environment, verdict: record.verdict });
  const legs = meter.createCounter('sentinel_legs_completed', '', 'Hardware legs finished, by outcome');
  const retries = meter.createCounter(
    'sentinel_leg_infra_retries',
    '',
    'Leg attempts made again on a fresh machine after an infrastructure failure',
  );
  for (const leg of record.legs) {
    legs.add(1, { environment, target: leg.target, outcome: leg.outcome });
    const again = leg.earlierAttempts?.length ?? 0;
    if (again > 0) retries.add(again, { environment, target: leg.target });
  }
  if (!record.cost) return;
  meter
    .createHistogram(
      'sentinel_run_instance_seconds',
      'float',
      's',
      "Instance-seconds of a run's machines, launch to terminated",
    )
    .record(record.cost.instanceSeconds, { environment });
  meter
    .createHistogram(
      'sentinel_run_leaked_instance_seconds',
      'float',
      's',
      'Instance-seconds after a leg had ended, until its machine was terminated',
    )
    .record(record.cost.leakedInstanceSeconds, { environment });
  if (record.cost.usd !== null)
    meter
      .createHistogram(
        'sentinel_run_cost_usd',
        'float',
        'USD',
        "A run's machines at the configured on-demand prices",
      )
      .record(record.cost.usd, { environment });
}
