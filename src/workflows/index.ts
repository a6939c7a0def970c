// The workflow bundle's entry: every workflow type the Sentinel worker runs.
export { gpuMatrixWorkflow } from './matrix';
export { hardwareLegWorkflow } from './leg';
export { sentinelLaneWorkflow } from './lane';
export { janitorWorkflow } from './janitor';
export { nightlyMatrixWorkflow } from './nightly';
