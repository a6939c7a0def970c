#!/usr/bin/env node
/*
 * The cluster agent as the simulated hosts run it (started by docker-sim.js
 * for `docker run <agent image>`). It follows the agent side of the control
 * plane contract: exchange the onboarding token, heartbeat, run the jobs
 * handed out. Its GPU smoke job asks the host's GPU tool (the recorded
 * nvidia-smi / rocm-smi on PATH) how many GPUs it sees.
 */
'use strict';
const { spawnSync } = require('node:child_process');

const api = process.env.RADIX_API_URL;
const onboardingToken = process.env.RADIX_ONBOARDING_TOKEN;
const image = process.env.RADIX_AGENT_IMAGE || '';
const heartbeatMs = Number(process.env.RADIX_AGENT_HEARTBEAT_MS || 500);
// A real host is terminated when its leg ends; a simulated one whose leg never cleaned up (its worker was
// stopped or killed mid-leg) would otherwise heartbeat at a control plane that is gone, for as long as this
// machine runs. It stops once the control plane has been unreachable this long.
const giveUpMs = 60_000;
// normal | never-ready (joins, then never reports ready) | smoke-fails (its GPU jobs fail)
const behaviour = process.env.SIMULATED_AGENT_BEHAVIOUR || 'normal';
const log = (message) => process.stdout.write(`${new Date().toISOString()} radix-agent: ${message}\n`);

if (!api || !onboardingToken) {
  log('RADIX_API_URL and RADIX_ONBOARDING_TOKEN are required');
  process.exit(2);
}

/** The GPUs this container can use: none unless it was started with GPU access (see docker-sim.js). */
function gpus() {
  const access = process.env.SIMULATED_CONTAINER_GPU_ACCESS || 'none';
  const nvidia = access === 'nvidia' ? spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }) : { status: 1 };
  if (nvidia.status === 0) {
    const lines = nvidia.stdout.split('\n').filter((l) => l.startsWith('GPU '));
    return {
      vendor: 'nvidia',
      count: lines.length,
      model: (/^GPU \d+: (.+?) \(UUID/.exec(lines[0] || '') || [])[1] || 'unknown',
    };
  }
  const amd =
    access === 'amd' ? spawnSync('rocm-smi', ['--showproductname'], { encoding: 'utf8' }) : { status: 1 };
  if (amd.status === 0) {
    const lines = amd.stdout.split('\n').filter((l) => l.includes('Card series:'));
    const ids = new Set(lines.map((l) => (/^GPU\[(\d+)\]/.exec(l) || [])[1]));
    return {
      vendor: 'amd',
      count: ids.size,
      model: (lines[0] || '').replace(/^.*Card series:\s*/, '').trim() || 'unknown',
    };
  }
  return { vendor: 'none', count: 0, model: 'none' };
}

async function post(path, body, token) {
  const response = await fetch(new URL(path, api), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

function smoke(job) {
  if (behaviour === 'smoke-fails')
    return {
      status: 'failed',
      message: 'CUDA error: no CUDA-capable device is detected (the container cannot open the GPU)',
    };
  const found = gpus();
  if (job.vendor && found.vendor !== job.vendor)
    return { status: 'failed', message: `expected ${job.vendor} GPUs, the container sees ${found.vendor}` };
  if (found.count < (job.gpuCount || 1))
    return {
      status: 'failed',
      message: `expected ${job.gpuCount} GPU(s), the container sees ${found.count}`,
    };
  return { status: 'succeeded', message: `${found.count}x ${found.model} visible to the container` };
}

async function main() {
  const gpu = gpus();
  const exchanged = await post('/v1/agent/exchange', {
    onboardingToken,
    imageDigest: image.includes('@') ? image.slice(image.indexOf('@') + 1) : image,
    gpuVendor: gpu.vendor,
    gpuCount: gpu.count,
    gpuModel: gpu.model,
  });
  if (exchanged.status !== 200) {
    log(`token exchange refused (${exchanged.status}): ${exchanged.body.message}`);
    process.exit(3);
  }
  log(`joined cluster ${exchanged.body.clusterId}`);
  const agentToken = exchanged.body.agentToken;
  if (behaviour === 'never-ready') {
    log('stuck before reporting ready');
    await new Promise(() => undefined);
  }
  let unreachableSince;
  for (;;) {
    const beat = await post('/v1/agent/heartbeat', { status: 'ready' }, agentToken).catch((err) => ({
      status: 0,
      body: { message: String(err) },
    }));
    if (beat.status === 401) {
      log('cluster gone; stopping');
      process.exit(0);
    }
    if (beat.status === 0) {
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince >= giveUpMs) {
        log(`control plane unreachable for ${Math.round(giveUpMs / 1000)}s (${beat.body.message}); stopping`);
        process.exit(0);
      }
    } else {
      unreachableSince = undefined;
    }
    for (const job of (beat.body && beat.body.jobs) || []) {
      const result = smoke(job);
      log(`job ${job.id} (${job.kind}): ${result.status}: ${result.message}`);
      await post(`/v1/agent/jobs/${job.id}/result`, result, agentToken).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, heartbeatMs));
  }
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err) => {
  log(`fatal: ${err.message}`);
  process.exit(1);
});
