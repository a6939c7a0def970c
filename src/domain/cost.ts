/**
 * Cost of a run's machines, from the instance-seconds each leg observed and
 * the environment's configured on-demand prices. Pure: the workflows use it.
 */
import type { PricesConfig } from '../config/schema';
import type { LegCost, LegResult, RunCost } from './run';

/** USD per hour for one instance type in one region, when configured. */
export function onDemandPrice(
  prices: PricesConfig | undefined,
  region: string,
  instanceType: string,
): number | undefined {
  return prices?.onDemandUsdPerHour[region]?.[instanceType];
}

/** Every machine of a leg: its earlier (infrastructure-failed) attempts, then the last one. */
export function legMachineCosts(leg: LegResult): LegCost[] {
  return [...(leg.earlierAttempts ?? []), leg].flatMap((attempt) => (attempt.cost ? [attempt.cost] : []));
}

/** USD of a leg, every attempt included; undefined when none of its machines had a price. */
export function legCostUsd(leg: LegResult): number | undefined {
  const priced = legMachineCosts(leg).filter((c) => c.usd !== undefined);
  return priced.length === 0 ? undefined : roundUsd(priced.reduce((sum, c) => sum + c.usd!, 0));
}

/** The run's total; undefined when no leg recorded a machine's cost (runs before cost, dry runs). */
export function runCost(legs: LegResult[], prices: PricesConfig | undefined): RunCost | undefined {
  const machines = legs.flatMap(legMachineCosts);
  if (machines.length === 0) return undefined;
  const priced = machines.filter((c) => c.usd !== undefined);
  return {
    instanceSeconds: roundSeconds(machines.reduce((sum, c) => sum + c.instanceSeconds, 0)),
    leakedInstanceSeconds: roundSeconds(machines.reduce((sum, c) => sum + c.leakedSeconds, 0)),
    usd: priced.length === 0 ? null : roundUsd(priced.reduce((sum, c) => sum + c.usd!, 0)),
    unpricedInstances: machines.length - priced.length,
    ...(prices ? { pricesReadAt: prices.readAt, priceSource: prices.source } : {}),
  };
}

/** Instance-seconds at a price: USD, to the hundredth of a cent. */
export function usdFor(instanceSeconds: number, usdPerHour: number): number {
  return roundUsd((instanceSeconds / 3600) * usdPerHour);
}

function roundUsd(usd: number): number {
  return Math.round(usd * 10_000) / 10_000;
}

function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
